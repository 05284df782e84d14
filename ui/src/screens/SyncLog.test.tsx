import { fireEvent, render, screen, within } from '@testing-library/preact';
import type { LogEntry, Status } from '../api';
import { StatusContext } from '../components';
import { formatDateTime } from '../lib/format';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { SyncLog } = await import('./SyncLog');

const status: Status = { ...SIGNED_IN, user: null, default_server: '' };

const entry = (over: Partial<LogEntry>): LogEntry => ({
  id: 'l',
  patient_id: null,
  document_id: null,
  action: 'automatic sync',
  timestamp: '2026-11-29T10:00:00Z',
  status: 'success',
  details: null,
  patient_name: null,
  user_name: null,
  ...over,
});

// As Rust sends them: newest first by time (which text order would get wrong here).
const entries: LogEntry[] = [
  entry({
    id: 'a',
    action: 'offline edit',
    status: 'failure',
    timestamp: '2026-11-29T10:00:30Z',
    patient_id: 'p1',
    patient_name: 'Ana Lima',
    user_name: 'Dee Dietician',
    details: 'Only the patient’s dietician may change the patient.',
  }),
  entry({ id: 'b', action: 'document shared', timestamp: '2026-11-29T10:00:30.5Z', patient_id: 'p9' }),
  entry({ id: 'c', action: 'manual sync', status: 'in progress', timestamp: '2026-11-28T09:15:07Z' }),
];

function show() {
  return render(
    <StatusContext.Provider value={status}>
      <SyncLog />
    </StatusContext.Provider>,
  );
}

describe('SyncLog', () => {
  beforeEach(() => {
    invoke.mockReset().mockResolvedValue(entries);
  });

  it('names the patient and the person, in words, with the time to the second, in the order given', async () => {
    show();
    const link = (await screen.findByText('Ana Lima')) as HTMLAnchorElement;
    expect(link.getAttribute('href')).toBe('#/patients/p1');
    expect(screen.getByText('a patient no longer on this computer').closest('a')).toBeNull();
    const table = within(screen.getByRole('table'));
    expect(table.getByText('Dee Dietician')).toBeTruthy();
    expect(table.getByText('Change made on this computer')).toBeTruthy();
    expect(table.getByText('Document shared')).toBeTruthy();
    expect(table.getByText('Failed')).toBeTruthy();
    expect(table.getByText('In progress')).toBeTruthy();
    expect(table.queryByText('offline edit')).toBeNull();
    expect(table.getByText(formatDateTime('2026-11-28T09:15:07Z'))).toBeTruthy();
    expect(formatDateTime('2026-11-28T09:15:07Z')).toMatch(/07/);

    const rows = [...document.querySelectorAll('tbody tr')].map((r) => r.getAttribute('data-action'));
    expect(rows).toEqual(['offline edit', 'document shared', 'manual sync']);
  });

  it('filters by labelled selects, offline edits among the actions', async () => {
    show();
    await screen.findByText('Ana Lima');
    const action = screen.getByLabelText('Action') as HTMLSelectElement;
    const status = screen.getByLabelText('Status') as HTMLSelectElement;
    expect([...status.options].map((o) => o.textContent)).toEqual(['All statuses', 'Waiting', 'In progress', 'Done', 'Failed']);
    const offline = [...action.options].find((o) => o.value === 'offline edit');
    expect(offline?.textContent).toBe('Change made on this computer');

    action.value = 'offline edit';
    fireEvent.change(action);
    await vi.waitFor(() => expect(invoke).toHaveBeenLastCalledWith('sync_log', { filter: { action: 'offline edit' } }));
    status.value = 'failure';
    fireEvent.change(status);
    await vi.waitFor(() =>
      expect(invoke).toHaveBeenLastCalledWith('sync_log', { filter: { action: 'offline edit', status: 'failure' } }),
    );
  });
});
