import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type LogEntry } from '../api';
import { ErrorMessage, Page, useStatus } from '../components';

const STATUSES = ['pending', 'in progress', 'success', 'failure'];
const ACTIONS = [
  'manual sync',
  'automatic sync',
  'automatic update',
  'document request',
  'document shared',
  'share revoked',
  'document uploaded',
];

export function SyncLog() {
  const status = useStatus();
  const [filter, setFilter] = useState<{ status?: string; action?: string; text?: string }>({});
  const [entries, setEntries] = useState<LogEntry[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    const t = setTimeout(() => call<LogEntry[]>('sync_log', { filter }).then(setEntries, setError), 150);
    return () => clearTimeout(t);
  }, [filter, status?.last_sync]);

  const set = (key: 'status' | 'action' | 'text') => (e: Event) =>
    setFilter({ ...filter, [key]: (e.currentTarget as HTMLInputElement).value || undefined });

  return (
    <Page title="Sync log">
      <div class="toolbar filters" role="search" aria-label="Filter the log">
        <label>
          Search
          <input id="log-search" type="search" placeholder="Words in the details" onInput={set('text')} />
        </label>
        <label>
          Status
          <select onChange={set('status')}>
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Action
          <select onChange={set('action')}>
            <option value="">All</option>
            {ACTIONS.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
      </div>
      <ErrorMessage error={error} />
      {entries && entries.length === 0 && <p class="empty">No entries match.</p>}
      {entries && entries.length > 0 && (
        <table class="log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Status</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.timestamp).toLocaleString()}</td>
                <td>{e.action}</td>
                <td>
                  <span class={`status-${e.status.replace(' ', '-')}`}>{e.status}</span>
                </td>
                <td>
                  {e.details}
                  {e.patient_id && (
                    <>
                      {' '}
                      <a href={`#/patients/${e.patient_id}`}>patient</a>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
