import { render, screen, waitFor } from '@testing-library/preact';
import type { Status, Trend } from '../api';
import { StatusContext } from '../components';
import { formatDate } from '../lib/format';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { chartTime, formatValue, Trends } = await import('./PatientTrends');

const glucose: Trend = {
  key: 'glucose',
  name: 'Glucose',
  unit: 'mmol/L',
  points: [
    { date: '2025-11-02', value: 5.995, reported: '108 mg/dL', document_id: 'd1' },
    { date: '2026-01-15', value: 6.125, reported: null, document_id: 'd2' },
    { date: '2026-03-12', value: 5.4, reported: null, document_id: null },
  ],
  unconverted: 0,
};

const hba1c: Trend = {
  key: 'hba1c',
  name: 'HbA1c',
  unit: '%',
  points: [{ date: '2026-03-12', value: 6.1, reported: null, document_id: 'd3' }],
  unconverted: 2,
};

const view = (s: Status, patientId = 'p1') => (
  <StatusContext.Provider value={s}>
    <Trends patientId={patientId} />
  </StatusContext.Provider>
);

describe('results over time', () => {
  beforeEach(() => invoke.mockReset());

  it('shows each measure with its unit, the latest value and its values newest first', async () => {
    invoke.mockResolvedValue([glucose, hba1c]);
    render(view(SIGNED_IN));
    expect(await screen.findByRole('heading', { name: 'Results over time', level: 2 })).toBeTruthy();
    expect(invoke).toHaveBeenCalledWith('trends', { patient_id: 'p1' });

    const card = document.querySelector('article.trend[data-trend="glucose"]')!;
    expect(card.querySelector('h3')!.textContent).toBe('Glucose (mmol/L)');
    expect(card.getAttribute('aria-labelledby')).toBe(card.querySelector('h3')!.id);
    expect(card.querySelector('.trend-latest')!.textContent).toBe(`Latest: 5.4 mmol/L on ${formatDate('2026-03-12')}`);
    expect(card.querySelector('.trend-chart')!.getAttribute('aria-hidden')).toBe('true');

    const table = card.querySelector('table.trend-values')!;
    expect(table.querySelector('caption')!.textContent).toMatch(/^Glucose/);
    expect([...table.querySelectorAll('thead th')].map((th) => [th.textContent, th.getAttribute('scope')])).toEqual([
      ['Date', 'col'],
      ['Value (mmol/L)', 'col'],
      ['As reported', 'col'],
    ]);
    const rows = [...table.querySelectorAll('tbody tr')].map((r) => [...r.children].map((c) => c.textContent));
    expect(rows).toEqual([
      [formatDate('2026-03-12'), '5.4', '—'],
      [formatDate('2026-01-15'), '6.13', '—'],
      [formatDate('2025-11-02'), '6', '108 mg/dL'],
    ]);

    // A single value: its card, latest line and a one-row table all the same.
    const one = document.querySelector('article.trend[data-trend="hba1c"]')!;
    expect(one.querySelector('h3')!.textContent).toBe('HbA1c (%)');
    expect(one.querySelector('.trend-latest')!.textContent).toBe(`Latest: 6.1 % on ${formatDate('2026-03-12')}`);
    expect(one.querySelectorAll('tbody tr').length).toBe(1);
    expect(one.querySelector('.trend-chart')).toBeTruthy();
    expect(document.querySelector('#trends-empty')).toBeNull();
  });

  it('says when there is nothing to follow yet, and nothing more', async () => {
    invoke.mockResolvedValue([]);
    render(view(SIGNED_IN));
    expect((await screen.findByText('No results from the provider to follow yet.')).id).toBe('trends-empty');
    expect(document.querySelector('#trends')).toBeNull();
    expect(screen.queryByText('Results over time')).toBeNull();
  });

  it('counts the values in a unit that cannot be converted', async () => {
    invoke.mockResolvedValue([glucose, hba1c]);
    render(view(SIGNED_IN));
    await screen.findByText('Results over time');
    expect(document.querySelector('[data-trend="hba1c"] .trend-unconverted')!.textContent).toBe(
      '2 values in a unit that cannot be converted are not shown.',
    );
    expect(document.querySelector('[data-trend="glucose"] .trend-unconverted')).toBeNull();
  });

  it('reads the trends again after a sync', async () => {
    invoke.mockResolvedValue([]);
    const { rerender } = render(view({ ...SIGNED_IN, last_sync: '2026-11-29T10:00:00Z' }));
    await screen.findByText('No results from the provider to follow yet.');
    expect(invoke).toHaveBeenCalledTimes(1);

    // The same status again: no new read.
    rerender(view({ ...SIGNED_IN, last_sync: '2026-11-29T10:00:00Z', pending: 1 }));
    expect(invoke).toHaveBeenCalledTimes(1);

    invoke.mockResolvedValue([hba1c]);
    rerender(view({ ...SIGNED_IN, last_sync: '2026-11-29T10:05:00Z' }));
    await waitFor(() => expect(invoke).toHaveBeenCalledTimes(2));
    expect(invoke).toHaveBeenLastCalledWith('trends', { patient_id: 'p1' });
    expect(await screen.findByText('HbA1c (%)')).toBeTruthy();
    expect(document.querySelector('#trends-empty')).toBeNull();
  });
});

describe('values and days for the chart', () => {
  it('rounds to at most two decimals, without trailing zeros', () => {
    expect(formatValue(5.995)).toBe('6');
    expect(formatValue(6.125)).toBe('6.13');
    expect(formatValue(81.5)).toBe('81.5');
    expect(formatValue(120)).toBe('120');
    expect(formatValue(1.005)).toBe('1.01');
    expect(formatValue(0.001)).toBe('0');
    expect(formatValue(-2.345)).toBe('-2.35');
  });

  it('puts a day at noon UTC', () => {
    expect(chartTime('2026-03-12')).toBe(Date.UTC(2026, 2, 12, 12) / 1000);
  });
});

describe('the chart', () => {
  beforeEach(() => invoke.mockReset());
  afterEach(() => vi.restoreAllMocks());

  it('never takes the table with it when it cannot be drawn', async () => {
    // A canvas whose context can do nothing: drawing fails part way.
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({} as CanvasRenderingContext2D);
    invoke.mockResolvedValue([glucose]);
    render(view(SIGNED_IN));
    await screen.findByText('Glucose (mmol/L)');
    await waitFor(() => expect(HTMLCanvasElement.prototype.getContext).toHaveBeenCalled());
    expect(document.querySelectorAll('[data-trend="glucose"] tbody tr').length).toBe(3);
    expect(document.querySelector('[data-trend="glucose"] .trend-chart')!.children.length).toBe(0);
  });

  it('turns a session language Intl refuses (LANG=C) into one it takes, and keeps a good one', async () => {
    const { usableLanguage } = await import('./PatientTrends');
    const original = Object.getOwnPropertyDescriptor(navigator, 'language');
    try {
      Object.defineProperty(navigator, 'language', { value: 'C', configurable: true });
      expect(() => new Intl.NumberFormat(navigator.language)).toThrow();
      usableLanguage();
      expect(navigator.language).toBe('en-US');
      Object.defineProperty(navigator, 'language', { value: 'pt-PT', configurable: true });
      usableLanguage();
      expect(navigator.language).toBe('pt-PT');
    } finally {
      if (original) Object.defineProperty(navigator, 'language', original);
      else delete (navigator as unknown as Record<string, unknown>).language;
    }
  });
});
