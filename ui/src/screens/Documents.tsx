import { useEffect, useState } from 'preact/hooks';
import { call, DOCUMENT_TYPES, type AppError, type DocumentFilter, type HealthcareDocument } from '../api';
import { Badge, ErrorMessage, Page, useStatus } from '../components';
import { fileSize } from '../lib/format';

export function Documents() {
  return (
    <Page title="Documents">
      <DocumentList />
    </Page>
  );
}

/** Documents by type, with date, type and keyword filters; keywords search the full text. */
export function DocumentList({ patientId }: { patientId?: string }) {
  const status = useStatus();
  const [filter, setFilter] = useState<DocumentFilter>({});
  const [text, setText] = useState('');
  const [docs, setDocs] = useState<HealthcareDocument[] | null>(null);
  // The search the list shows results for (it lags the typing by the debounce).
  const [shown, setShown] = useState('');
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    const t = setTimeout(() => setFilter((f) => ({ ...f, text: text.trim() || undefined })), 200);
    return () => clearTimeout(t);
  }, [text]);

  useEffect(() => {
    call<HealthcareDocument[]>('documents', { filter: { ...filter, patient_id: patientId } }).then((d) => {
      setDocs(d);
      setShown(filter.text ?? '');
    }, setError);
  }, [filter, patientId, status?.last_sync, status?.pending]);

  const set = (key: keyof DocumentFilter) => (e: Event) =>
    setFilter({ ...filter, [key]: (e.currentTarget as HTMLInputElement).value || undefined });

  const groups = new Map<string, HealthcareDocument[]>();
  for (const d of docs ?? []) groups.set(d.type, [...(groups.get(d.type) ?? []), d]);

  return (
    <div class="documents" data-search={shown}>
      <div class="toolbar filters" role="search" aria-label="Filter documents">
        <label>
          Search
          <input id="document-search" type="search" placeholder="Words in title or text" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label>
          Type
          <select id="filter-type" value={filter.type ?? ''} onChange={set('type')}>
            <option value="">All types</option>
            {DOCUMENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input id="filter-from" type="date" value={filter.from ?? ''} onInput={set('from')} />
        </label>
        <label>
          To
          <input id="filter-to" type="date" value={filter.to ?? ''} onInput={set('to')} />
        </label>
      </div>
      <ErrorMessage error={error} />
      {docs && docs.length === 0 && <p class="empty">No documents match.</p>}
      {[...groups.entries()].map(([type, list]) => (
        <section key={type} class="doc-group" aria-label={type}>
          <h3>
            {type} <span class="muted">({list.length})</span>
          </h3>
          <ul class="doc-list">
            {list.map((d) => (
              <li key={d.id} data-document-id={d.id}>
                <a href={`#/documents/${d.id}`}>{d.title}</a>
                <span class="muted">{d.date}</span>
                <span class="muted">{d.source}</span>
                <span class="muted">{fileSize(d.size_bytes)}</span>
                {d.sync_state && <Badge state={d.sync_state} />}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}
