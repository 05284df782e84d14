import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type DocumentFilter, type DocumentSummary } from '../api';
import { Badge, DateInput, ErrorMessage, Page, TypeSelect, useStatus } from '../components';
import { fileSize, formatDate, sourceLabel, typeLabel } from '../lib/format';

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
  // Type groups sit under the page's title, or under a patient page's "Documents".
  const Heading = patientId ? 'h3' : 'h2';
  const [filter, setFilter] = useState<DocumentFilter>({});
  const [text, setText] = useState('');
  const [docs, setDocs] = useState<DocumentSummary[] | null>(null);
  // The search the list shows results for (it lags the typing by the debounce).
  const [shown, setShown] = useState('');
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    const t = setTimeout(() => setFilter((f) => ({ ...f, text: text.trim() || undefined })), 200);
    return () => clearTimeout(t);
  }, [text]);

  useEffect(() => {
    call('documents', { filter: { ...filter, patient_id: patientId } }).then((d) => {
      setDocs(d);
      setShown(filter.text ?? '');
    }, setError);
  }, [filter, patientId, status?.last_sync, status?.pending]);

  const setDate = (key: 'from' | 'to') => (iso: string) => setFilter((f) => ({ ...f, [key]: iso || undefined }));

  const groups = new Map<string, DocumentSummary[]>();
  for (const d of docs ?? []) groups.set(d.type, [...(groups.get(d.type) ?? []), d]);
  // Names that appear for two patients or more get the birth date beside them.
  const births = new Map<string, Set<string>>();
  for (const d of docs ?? []) {
    if (!d.patient_name) continue;
    const seen = births.get(d.patient_name) ?? new Set();
    seen.add(d.patient_birth_date ?? d.patient_id);
    births.set(d.patient_name, seen);
  }
  const patientLabel = (d: DocumentSummary) => {
    if (!d.patient_name) return 'A patient not on this computer';
    const repeated = (births.get(d.patient_name)?.size ?? 0) > 1;
    return repeated && d.patient_birth_date ? `${d.patient_name} (born ${formatDate(d.patient_birth_date)})` : d.patient_name;
  };
  const mine = (d: DocumentSummary) => d.source_user_id === status?.user?.id;

  return (
    <div class="documents" data-search={shown}>
      <div class="toolbar filters" role="search" aria-label="Filter documents">
        <label>
          Search
          <input
            id="document-search"
            type="search"
            placeholder={patientId ? 'Words in title or text' : 'Title, text or patient'}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <label>
          Type
          <TypeSelect id="filter-type" value={filter.type ?? ''} onChange={(type) => setFilter({ ...filter, type: type || undefined })} any="All types" />
        </label>
        <label for="filter-from">
          From
          <DateInput id="filter-from" value={filter.from ?? ''} onChange={setDate('from')} />
        </label>
        <label for="filter-to">
          To
          <DateInput id="filter-to" value={filter.to ?? ''} onChange={setDate('to')} />
        </label>
      </div>
      <p class="muted order-note">Newest first, by the document's date.</p>
      <ErrorMessage error={error} />
      {docs && docs.length === 0 && <p class="empty">No documents match.</p>}
      {[...groups.entries()].map(([type, list]) => (
        <section key={type} class="doc-group" aria-label={typeLabel(type)}>
          <Heading>
            {typeLabel(type)} <span class="muted">({list.length})</span>
          </Heading>
          <ul class={`doc-list${patientId ? '' : ' with-patient'}`}>
            {list.map((d) => (
              <li key={d.id} data-document-id={d.id}>
                <a href={`#/documents/${d.id}`} class="doc-title">
                  {d.title}
                </a>
                {!patientId && (
                  <a href={`#/patients/${d.patient_id}`} class="doc-patient" data-patient-name={d.patient_name ?? ''}>
                    {patientLabel(d)}
                  </a>
                )}
                <span class="muted doc-date">{formatDate(d.date)}</span>
                <span class="muted doc-source">{sourceLabel(d.source, mine(d), d.mime_type)}</span>
                <span class="muted doc-size">{fileSize(d.size_bytes)}</span>
                <span class="doc-state">{d.sync_state && <Badge state={d.sync_state} />}</span>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}
