// The audit trail: who read which patient's data, when. An administrator reads all of it,
// filtered by person, patient and day; a dietician reads who read one of their patients.
// Online only: the trail is kept on the platform.
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type AuditEntry, type AuditQuery, type User } from '../api';
import { DateInput, ErrorMessage, Field, Page, useStatus } from '../components';
import { formatDateTime } from '../lib/format';

/** What a read was of, in words. */
export function readWords(e: AuditEntry): string {
  return e.entity === 'patient list' ? 'the patient list' : `a ${e.entity}`;
}

export function Audit({ patientId }: { patientId?: string }) {
  const status = useStatus();
  const online = !!status?.online;
  const me = status?.user;
  const admin = me?.type === 'admin';
  const [users, setUsers] = useState<User[]>([]);
  const [filter, setFilter] = useState<AuditQuery>({ patient_id: patientId });
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    if (online && admin) call('users').then((p) => setUsers(p.items), setError);
  }, [online, admin]);

  const load = (more?: string) =>
    call('audit_trail', { filter: { ...filter, cursor: more } }).then((page) => {
      setEntries((was) => (more ? [...(was ?? []), ...page.items] : page.items));
      setNext(page.next_cursor);
    }, setError);
  useEffect(() => {
    setEntries(null);
    setError(null);
    if (online) load();
  }, [online, filter.user_id, filter.patient_id, filter.from, filter.to]);

  const who = (id: string) => (id === me?.id ? 'You' : (users.find((u) => u.id === id)?.name ?? 'Another user'));

  return (
    <Page title={patientId ? "Who read this patient's data" : 'Audit trail'} breadcrumb={patientId ? [[`#/patients/${patientId}`, 'Patient']] : undefined}>
      {!online && (
        <p class="warning" role="status" id="audit-offline">
          The audit trail is kept on the platform: connect to read it.
        </p>
      )}
      <div class="toolbar filters" role="search" aria-label="Filter the audit trail">
        {admin && (
          <Field label="Person" id="audit-user">
            <select id="audit-user" value={filter.user_id ?? ''} onChange={(e) => setFilter({ ...filter, user_id: e.currentTarget.value || undefined })}>
              <option value="">Everyone</option>
              {users.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name}
                </option>
              ))}
            </select>
          </Field>
        )}
        <Field label="From" id="audit-from">
          <DateInput id="audit-from" value={filter.from ?? ''} onChange={(iso) => setFilter({ ...filter, from: iso || undefined })} />
        </Field>
        <Field label="To" id="audit-to">
          <DateInput id="audit-to" value={filter.to ?? ''} onChange={(iso) => setFilter({ ...filter, to: iso || undefined })} />
        </Field>
      </div>
      <ErrorMessage error={error} />
      {entries && entries.length === 0 && <p id="audit-empty">No reads here.</p>}
      {entries && entries.length > 0 && (
        <table id="audit">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Read</th>
              {!patientId && <th scope="col">Patient</th>}
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.seq} data-seq={e.seq}>
                <td>{formatDateTime(e.at)}</td>
                <td class="who">{who(e.user_id)}</td>
                <td>{readWords(e)}</td>
                {!patientId && <td>{e.patient_id ? <a href={`#/audit/${e.patient_id}`}>This patient's reads</a> : '—'}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" id="audit-more" onClick={() => load(next)}>
          Older reads
        </button>
      )}
    </Page>
  );
}
