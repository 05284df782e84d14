import { pagesFor, scrollToReveal, visibleRange } from './virtual';

describe('visibleRange', () => {
  it('renders only the rows in view plus the overscan', () => {
    expect(visibleRange(0, 520, 52, 10_000, 5)).toEqual({ start: 0, end: 16 });
    // Scrolled to row 5,000: a window around it, not the whole list.
    const r = visibleRange(5_000 * 52, 520, 52, 10_000, 5);
    expect(r).toEqual({ start: 4_995, end: 5_016 });
    expect(r.end - r.start).toBeLessThan(30);
  });

  it('stops at the ends of the list', () => {
    expect(visibleRange(9_990 * 52, 520, 52, 10_000, 5).end).toBe(10_000);
    expect(visibleRange(-100, 520, 52, 3, 5)).toEqual({ start: 0, end: 3 });
    expect(visibleRange(0, 520, 52, 0)).toEqual({ start: 0, end: 0 });
  });
});

describe('pagesFor', () => {
  it('names each page a range touches once', () => {
    expect(pagesFor({ start: 95, end: 205 }, 100)).toEqual([0, 1, 2]);
    expect(pagesFor({ start: 100, end: 200 }, 100)).toEqual([1]);
    expect(pagesFor({ start: 5, end: 5 }, 100)).toEqual([]);
  });
});

describe('scrollToReveal', () => {
  it('scrolls just enough to show a row, and not at all when it shows', () => {
    expect(scrollToReveal(0, 104, 520, 52)).toBe(0);
    expect(scrollToReveal(20, 0, 520, 52)).toBe(21 * 52 - 520);
    expect(scrollToReveal(3, 0, 520, 52)).toBeNull();
  });
});
