import { useEffect, useRef, useState } from 'preact/hooks';
import { call, type AppError, type PatientSummary } from '../api';
import { Badge, ErrorMessage, Page, useStatus } from '../components';
import { birthWithAge } from '../lib/format';
import { useProviders } from './PatientForm';
import { linkShort } from './PatientPhp';
import { navigate } from '../lib/route';
import { pagesFor, scrollToReveal, visibleRange } from '../lib/virtual';

const ROW = 52;
const PAGE = 100;

export function PatientList() {
  const status = useStatus();
  const providers = useProviders();
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [total, setTotal] = useState<number | null>(null);
  const [rows, setRows] = useState<Map<number, PatientSummary>>(new Map());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [focused, setFocused] = useState(0);
  const [error, setError] = useState<AppError | null>(null);
  const loaded = useRef(new Set<number>());
  const scroller = useRef<HTMLDivElement>(null);

  // Debounced search.
  useEffect(() => {
    const t = setTimeout(() => setQuery(search), 150);
    return () => clearTimeout(t);
  }, [search]);

  // A new search, or a change in the replica (a sync, an edit): start over. Answers to
  // requests of an earlier generation are dropped when they arrive.
  const generation = useRef(0);
  const [current, setCurrent] = useState(0);
  useEffect(() => {
    generation.current += 1;
    loaded.current = new Set();
    setRows(new Map());
    setTotal(null);
    setCurrent(generation.current);
  }, [query, status?.pending, status?.last_sync, status?.conflicts]);

  // The list's height (re-measured when it reappears after an empty result).
  const listShown = total !== 0;
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight || 600);
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [listShown]);

  const range = visibleRange(scrollTop, viewport, ROW, total ?? PAGE);
  useEffect(() => {
    const asked = generation.current;
    for (const page of pagesFor(range, PAGE)) {
      if (loaded.current.has(page)) continue;
      loaded.current.add(page);
      call('patients', { search: query, offset: page * PAGE, limit: PAGE }).then(
        (result) => {
          if (asked !== generation.current) return;
          // For profiling (and the figures bench): when the first screen had its data.
          if (result.items.length && !performance.getEntriesByName('first-screen').length) {
            performance.mark('first-screen');
          }
          setTotal(result.total);
          setRows((prev) => {
            const next = new Map(prev);
            result.items.forEach((p, i) => next.set(result.offset + i, p));
            return next;
          });
        },
        (e) => {
          if (asked !== generation.current) return;
          loaded.current.delete(page);
          setError(e);
        },
      );
    }
  }, [range.start, range.end, current]);

  function onKeyDown(e: KeyboardEvent) {
    if (!total) return;
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[e.key];
    let next = focused;
    if (step) next = Math.min(total - 1, Math.max(0, focused + step));
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = total - 1;
    else if (e.key === 'Enter') {
      const p = rows.get(focused);
      if (p) navigate(`/patients/${p.id}`);
      return;
    } else return;
    e.preventDefault();
    setFocused(next);
    const el = scroller.current;
    if (el) {
      const top = scrollToReveal(next, el.scrollTop, el.clientHeight, ROW);
      if (top !== null) el.scrollTop = top;
    }
  }

  const items = [];
  for (let i = range.start; i < range.end; i++) {
    const p = rows.get(i);
    items.push(
      <div
        key={i}
        role="option"
        id={`patient-row-${i}`}
        aria-selected={i === focused}
        class={`row${i === focused ? ' focused' : ''}`}
        style={{ top: `${i * ROW}px`, height: `${ROW}px` }}
        onClick={() => p && navigate(`/patients/${p.id}`)}
        data-patient-id={p?.id}
      >
        {p ? (
          <>
            <span class="name">{p.name}</span>
            <span class="muted birth">{birthWithAge(p.birth_date)}</span>
            <span class="muted email">{p.email}</span>
            <span class="muted php">{linkShort(p, providers)}</span>
            <Badge state={p.sync_state} />
          </>
        ) : (
          <span class="muted">Loading…</span>
        )}
      </div>,
    );
  }

  return (
    <Page
      title="Patients"
      actions={
        status?.can?.create_patients && (
          <a class="button primary" href="#/patients/new" id="new-patient">
            New patient
          </a>
        )
      }
    >
      <div class="toolbar">
        <label for="patient-search" class="visually-hidden">
          Search patients
        </label>
        <input
          id="patient-search"
          type="search"
          placeholder="Name, email, birth date (12 Apr 1978) or provider's ID"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <span class="muted" id="patient-count" aria-live="polite">
          {total === null ? '' : `${total} patient${total === 1 ? '' : 's'}`}
        </span>
      </div>
      {status?.user?.type === 'admin' && (
        <p class="muted" id="read-online">
          Read from the platform: an administrator's computer keeps no patient records, and each read is recorded in
          the audit trail. Shows the first 200 matches.
        </p>
      )}
      <ErrorMessage error={error} />
      {total === 0 ? (
        <p class="empty">
          {query
            ? 'No patient matches that search.'
            : status?.can?.create_patients
              ? 'No patients yet. Add one, or sync.'
              : 'No patients here yet. They appear after a sync.'}
        </p>
      ) : (
        <div
          class="virtual"
          ref={scroller}
          role="listbox"
          aria-label="Patients"
          tabIndex={0}
          aria-activedescendant={total ? `patient-row-${focused}` : undefined}
          onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
          onKeyDown={onKeyDown}
        >
          <div style={{ height: `${(total ?? 0) * ROW}px`, position: 'relative' }}>{items}</div>
        </div>
      )}
    </Page>
  );
}
