// A patient's followed measures over time (weight, blood pressure, HbA1c, lipids…), from the
// results their healthcare provider sent: per measure a small chart for the eye and, beside
// it, the values in a table for screen readers and copying. Read from this computer, so it
// works offline; it refreshes after each sync.
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { call, type Trend } from '../api';
import { useStatus } from '../components';
import { formatDate } from '../lib/format';

const CHART_HEIGHT = 140;
const FALLBACK_WIDTH = 480;
const DAY = 86400;
/** Rows a card's table shows before it scrolls. */
const SCROLL_AFTER = 8;
// Canvas can't read the stylesheet's variables: the same colours, spelled out.
const INK = '#1a1f1c';
const LINE = '#1d6b4f';
const GRID = '#e3e9e6';

/**
 * A value as the table and the latest line read: at most two decimals, no trailing zeros,
 * rounded half away from zero on the decimal number (5.995 → "6", 6.125 → "6.13").
 */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '';
  const abs = Math.abs(v);
  // toFixed(10) drops the binary noise (5.995 is stored as 5.99499…) before rounding.
  const hundredths = abs < 1e20 ? Math.round(Number(`${abs.toFixed(10)}e2`)) : Math.round(abs * 100);
  if (hundredths === 0) return '0';
  return `${v < 0 ? '-' : ''}${hundredths / 100}`;
}

/** A `YYYY-MM-DD` day as the chart's x: unix seconds at noon UTC (the same day in every zone). */
export function chartTime(date: string): number {
  const [y, m, d] = date.split('-').map(Number);
  return Date.UTC(y, m - 1, d, 12) / 1000;
}

/** The chart's data: days and values, oldest first. */
export function chartData(trend: Trend): [number[], number[]] {
  return [trend.points.map((p) => chartTime(p.date)), trend.points.map((p) => p.value)];
}

/** Whether this page can draw on a canvas (not in unit tests' DOM, for one). */
function canDraw(): boolean {
  try {
    return typeof HTMLCanvasElement !== 'undefined' && document.createElement('canvas').getContext('2d') != null;
  } catch {
    return false;
  }
}

/** The x range: the points with a little room at the ends; a lone point in the middle of a month. */
function xRange(xs: number[]): uPlot.Scale.Range {
  return (_u, min, max) => {
    if (xs.length <= 1 || min === max) return [min - 15 * DAY, min + 15 * DAY];
    const pad = Math.max((max - min) * 0.04, DAY);
    return [min - pad, max + pad];
  };
}

type UPlot = typeof uPlot;

let loading: Promise<UPlot> | null = null;

/** uPlot, fetched with the first chart rather than at start-up. It formats numbers in
 * `navigator.language` as it loads, and a session started with `LANG=C` reports "C", a tag
 * `Intl` refuses: that would stop the module, so such a session formats as `en-US`. */
export function loadChartLibrary(): Promise<UPlot> {
  if (!loading) {
    usableLanguage();
    loading = import('uplot').then((m) => m.default);
  }
  return loading;
}

/** Makes `navigator.language` a tag `Intl` takes (`en-US` in place of "C"). */
export function usableLanguage() {
  try {
    new Intl.NumberFormat(navigator.language);
  } catch {
    Object.defineProperty(navigator, 'language', { value: 'en-US', configurable: true });
  }
}

function chartOptions(UPlot: UPlot, trend: Trend, xs: number[], width: number): uPlot.Options {
  const axis = {
    stroke: INK,
    font: '12px system-ui, sans-serif',
    grid: { stroke: GRID, width: 1 },
    ticks: { stroke: GRID, width: 1 },
  };
  return {
    width,
    height: CHART_HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    // Days are UTC noons: read them in UTC so the axis names the same day as the table.
    tzDate: (ts) => UPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: { x: { time: true, range: xRange(xs) } },
    series: [
      {},
      {
        label: `${trend.name} (${trend.unit})`,
        stroke: LINE,
        width: 2,
        points: { show: true, size: 7, stroke: LINE, fill: LINE },
      },
    ],
    axes: [axis, { ...axis, size: 56, values: (_u, splits) => splits.map((v) => (v == null ? '' : formatValue(v))) }],
  };
}

/** The chart of one trend: decoration for sighted readers (the table says the same). */
function TrendChart({ trend }: { trend: Trend }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || trend.points.length === 0 || !canDraw()) return;
    let gone = false;
    let undraw: (() => void) | undefined;
    loadChartLibrary().then(
      (UPlot) => {
        if (!gone) undraw = draw(UPlot, el, trend);
      },
      () => {
        // No chart library: the table still reads.
      },
    );
    return () => {
      gone = true;
      undraw?.();
    };
  }, [trend]);
  return <div class="trend-chart" aria-hidden="true" ref={box} />;
}

/** Draws `trend` into `el`; returns what takes it down again (nothing when it failed). */
function draw(UPlot: UPlot, el: HTMLDivElement, trend: Trend): (() => void) | undefined {
  const data = chartData(trend);
  // Set in uPlot's callback, which TypeScript does not follow: hence `as`, not narrowed to null.
  let made = null as uPlot | null;
  try {
    // Drawn at once (uPlot's batch), not in a later microtask: a failure is caught here.
    new UPlot(chartOptions(UPlot, trend, data[0], el.clientWidth || FALLBACK_WIDTH), data, (u, init) => {
      made = u;
      el.appendChild(u.root);
      u.batch(init);
    });
  } catch {
    // No chart; the table still reads.
    try {
      made?.destroy();
    } catch {
      // Half made: its root goes below.
    }
    el.replaceChildren();
    return;
  }
  const live = made;
  if (!live) return;
  let observer: ResizeObserver | null = null;
  if (typeof ResizeObserver !== 'undefined') {
    observer = new ResizeObserver(() => {
      const width = el.clientWidth;
      if (width <= 0 || width === live.width) return;
      try {
        live.batch(() => live.setSize({ width, height: CHART_HEIGHT }));
      } catch {
        // Keeps the size it had.
      }
    });
    observer.observe(el);
  }
  return () => {
    observer?.disconnect();
    live.destroy();
  };
}

function TrendCard({ trend }: { trend: Trend }) {
  const heading = `trend-${trend.key}-heading`;
  const latest = trend.points[trend.points.length - 1];
  const newestFirst = [...trend.points].reverse();
  const unconverted = trend.unconverted;
  const scrolls = newestFirst.length > SCROLL_AFTER;
  return (
    <article class="trend" data-trend={trend.key} aria-labelledby={heading}>
      <h3 id={heading}>
        {trend.name} ({trend.unit})
      </h3>
      {latest && (
        <p class="trend-latest">
          Latest: {formatValue(latest.value)} {trend.unit} on {formatDate(latest.date)}
        </p>
      )}
      {newestFirst.length > 0 && (
        <>
          <TrendChart trend={trend} />
          {/* A long table scrolls in its card: focusable then, so the keyboard scrolls it too. */}
          <div
            class={scrolls ? 'trend-values-box scrolls' : 'trend-values-box'}
            {...(scrolls ? { role: 'region', tabIndex: 0, 'aria-label': `${trend.name} values` } : {})}
          >
            <table class="trend-values">
              <caption class="visually-hidden">
                {trend.name} ({trend.unit}), newest first
              </caption>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">Value ({trend.unit})</th>
                  <th scope="col">As reported</th>
                </tr>
              </thead>
              <tbody>
                {newestFirst.map((p, i) => (
                  <tr key={`${p.date}-${i}`}>
                    <th scope="row">{formatDate(p.date)}</th>
                    <td>{formatValue(p.value)}</td>
                    <td>{p.reported ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {unconverted > 0 && (
        <p class="muted trend-unconverted">
          {unconverted === 1
            ? '1 value in a unit that cannot be converted is not shown.'
            : `${unconverted} values in a unit that cannot be converted are not shown.`}
        </p>
      )}
    </article>
  );
}

/** The patient's results over time, refreshed after each sync. */
export function Trends({ patientId }: { patientId: string }) {
  const status = useStatus();
  const [trends, setTrends] = useState<Trend[] | null>(null);
  useEffect(() => {
    let current = true;
    call('trends', { patient_id: patientId }).then(
      (t) => current && setTrends(t),
      () => current && setTrends(null),
    );
    return () => {
      current = false;
    };
  }, [patientId, status?.last_sync]);
  if (!trends) return null;
  if (trends.length === 0) {
    return (
      <p class="muted" id="trends-empty">
        No results from the provider to follow yet.
      </p>
    );
  }
  return (
    <section id="trends" aria-labelledby="trends-heading">
      <h2 id="trends-heading">Results over time</h2>
      <p class="muted">Values from the patient's healthcare provider, in one unit per measure (converted where the provider mixes units).</p>
      <div class="trend-grid">
        {trends.map((t) => (
          <TrendCard trend={t} key={t.key} />
        ))}
      </div>
    </section>
  );
}
