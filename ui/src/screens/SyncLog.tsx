// What synchronization did, newest first (the order Rust gives): from the platform's log and
// this computer's own changes the platform refused.
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type LogAction, type LogEntry, type LogStatus } from '../api';
import { ErrorMessage, Page, useStatus } from '../components';
import { formatDateTime } from '../lib/format';

/** Each status, in words (every one the platform has: the type check says when one is new). */
export const STATUS_LABELS: Record<LogStatus, string> = {
  pending: 'Waiting',
  'in progress': 'In progress',
  success: 'Done',
  failure: 'Failed',
};

/** Each action, in words (every one the platform has, and this computer's refused changes). */
export const ACTION_LABELS: Record<LogAction | 'offline edit', string> = {
  'manual sync': 'Sync started by hand',
  'automatic sync': 'Automatic sync',
  'automatic update': "Updated from the provider's records",
  'document request': 'Documents requested',
  'document shared': 'Document shared',
  'share revoked': 'Sharing stopped',
  'document uploaded': 'Document uploaded',
  'link review': 'Link to the provider reviewed',
  'offline edit': 'Change made on this computer',
};

/** A value in words: its label, else the value itself with a capital letter. */
function words(labels: Record<string, string>, value: string): string {
  return labels[value] ?? value.charAt(0).toUpperCase() + value.slice(1);
}

export function SyncLog() {
  const status = useStatus();
  const [filter, setFilter] = useState<{ status?: string; action?: string; text?: string }>({});
  const [entries, setEntries] = useState<LogEntry[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    let current = true;
    const t = setTimeout(
      () =>
        call('sync_log', { filter }).then(
          (e) => current && setEntries(e),
          (e) => current && setError(e as AppError),
        ),
      150,
    );
    return () => {
      current = false;
      clearTimeout(t);
    };
  }, [filter, status?.last_sync, status?.rejected]);

  const set = (key: 'status' | 'action' | 'text') => (e: Event) =>
    setFilter({ ...filter, [key]: (e.currentTarget as HTMLInputElement).value || undefined });

  return (
    <Page title="Sync log">
      <div class="toolbar filters" role="search" aria-label="Filter the log">
        <div class="field">
          <label for="log-search">Search</label>
          <input id="log-search" type="search" placeholder="Details or patient" onInput={set('text')} />
        </div>
        <div class="field">
          <label for="log-status">Status</label>
          <select id="log-status" value={filter.status ?? ''} onChange={set('status')}>
            <option value="">All statuses</option>
            {Object.entries(STATUS_LABELS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="log-action">Action</label>
          <select id="log-action" value={filter.action ?? ''} onChange={set('action')}>
            <option value="">All actions</option>
            {Object.entries(ACTION_LABELS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ErrorMessage error={error} />
      {entries && entries.length === 0 && <p class="empty">No entries match.</p>}
      {entries && entries.length > 0 && (
        <table class="log" id="sync-log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col">Patient</th>
              <th scope="col">By</th>
              <th scope="col">Status</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-action={e.action} data-status={e.status}>
                <td>
                  <time dateTime={e.timestamp}>{formatDateTime(e.timestamp)}</time>
                </td>
                <td>{words(ACTION_LABELS, e.action)}</td>
                <td>
                  {e.patient_id &&
                    (e.patient_name ? (
                      <a href={`#/patients/${encodeURIComponent(e.patient_id)}`}>{e.patient_name}</a>
                    ) : (
                      <span class="muted">a patient no longer on this computer</span>
                    ))}
                </td>
                <td>{e.user_name ?? ''}</td>
                <td>
                  <span class={`status-${e.status.replace(/ /g, '-')}`}>{words(STATUS_LABELS, e.status)}</span>
                </td>
                <td>{e.details}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
