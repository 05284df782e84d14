import { ago, fileSize, fromBase64, plural, showValue, toBase64 } from './format';
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
