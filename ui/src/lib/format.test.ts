import { age, ago, birthWithAge, fileSize, formatDate, fromBase64, parseDate, plural, showValue, toBase64 } from './format';
import { parseRoute } from './route';

describe('format', () => {
  it('reads file sizes like a person would', () => {
    expect(fileSize(512)).toBe('512 B');
    expect(fileSize(1536)).toBe('1.5 KB');
    expect(fileSize(5 * 1024 * 1024)).toBe('5.0 MB');
    expect(fileSize(250 * 1024 * 1024)).toBe('250 MB');
    expect(fileSize(undefined)).toBe('');
  });

  it('says how long ago the last sync was', () => {
    const now = new Date('2026-11-27T12:00:00Z');
    expect(ago(null, now)).toBe('never');
    expect(ago('2026-11-27T11:59:30Z', now)).toBe('just now');
    expect(ago('2026-11-27T11:57:00Z', now)).toBe('3 minutes ago');
    expect(ago('2026-11-27T11:00:00Z', now)).toBe('1 hour ago');
    expect(ago('2026-11-26T10:00:00Z', now)).toBe('yesterday');
    expect(ago('not a date', now)).toBe('never');
  });

  it('counts in English and shows empty values plainly', () => {
    expect(plural(1, 'change', 'changes')).toBe('1 change');
    expect(plural(2, 'change', 'changes')).toBe('2 changes');
    expect(showValue(null)).toBe('(empty)');
    expect(showValue('vegan')).toBe('vegan');
  });

  it('round-trips bytes through base64, large files included', () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
  });
});

describe('routes', () => {
  it('parses hash routes', () => {
    expect(parseRoute('')).toEqual({ screen: 'patients' });
    expect(parseRoute('#/documents')).toEqual({ screen: 'documents' });
    expect(parseRoute('#/patients/abc-1')).toEqual({ screen: 'patients', id: 'abc-1' });
  });
});

describe('dates', () => {
  it('shows one unambiguous format, in the locale', () => {
    expect(formatDate('1978-04-12', 'en-GB')).toBe('12 Apr 1978');
    expect(formatDate('1978-04-12', 'en-US')).toBe('Apr 12, 1978');
    expect(formatDate('', 'en-GB')).toBe('');
    expect(formatDate('1978-02-30', 'en-GB')).toBe('');
  });
  it('reads what a person types, and refuses what is ambiguous', () => {
    expect(parseDate('12 Apr 1978')).toBe('1978-04-12');
    expect(parseDate('12 april 1978')).toBe('1978-04-12');
    expect(parseDate('Apr 12, 1978')).toBe('1978-04-12');
    expect(parseDate('1978-04-12')).toBe('1978-04-12');
    expect(parseDate('  ')).toBe('');
    expect(parseDate('12/04/1978')).toBeNull();
    expect(parseDate('31 Feb 1978')).toBeNull();
    expect(parseDate('12 Foo 1978')).toBeNull();
  });
  it('puts the age beside a birth date', () => {
    const now = new Date(2026, 3, 11);
    expect(age('1978-04-12', now)).toBe(47);
    expect(age('1978-04-11', now)).toBe(48);
    expect(birthWithAge('1978-04-12', now)).toMatch(/1978 \(47\)$/);
    expect(age('2030-01-01', now)).toBeNull();
  });
});
