import { act, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import type { DocumentDigest, Patient, Job, Status } from '../api';
import { StatusContext } from '../components';
import { formatDate } from '../lib/format';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
const handlers = new Map<string, (e: { payload: unknown }) => void>();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({
  listen: (event: string, handler: (e: { payload: unknown }) => void) => {
    handlers.set(event, handler);
    return Promise.resolve(() => handlers.delete(event));
  },
}));

const { DocumentSummary, linkShort, linkWords, SyncFromProvider } = await import('./PatientPhp');

const linked: Patient = {
  id: 'p1',
  name: 'Ana Lima',
  email: 'ana@example.org',
  provider_id: 'php1',
  provider_patient_identifier: 'MRN-1',
  link_approval: 'approved',
};

const job = (status: Job['status'], found = 0, stored = 0, updated = 0, unchanged = 0): Job => ({
  id: 'j1',
  kind: 'pull',
  patient_id: 'p1',
  inquiry_id: null,
  cause: 'manual',
  attempts: 1,
  run_at: '2026-11-29T10:00:00Z',
  updated_at: '2026-11-29T10:00:01Z',
  status,
  progress: { found, stored, updated, unchanged, removed: 0, skipped: 0 },
  last_error: null,
});

describe('the link to the provider in words', () => {
  it('names each state and what to do', () => {
    expect(linkWords({ ...linked, provider_id: null }, null).state).toBe('Not linked');
    expect(linkWords({ ...linked, link_approval: 'pending' }, 'Springfield Clinic').what).toMatch(/Springfield Clinic awaits an administrator's approval/);
    expect(linkWords({ ...linked, link_approval: 'refused' }, null).state).toBe('Needs a person');
    expect(linkWords({ ...linked, sync_error: 'The provider did not answer; tried again in 5 minutes.' }, null)).toMatchObject({
      state: 'Error',
      what: 'The provider did not answer; tried again in 5 minutes.',
    });
    expect(linkWords(linked, 'Springfield Clinic')).toMatchObject({ state: 'Matched', tone: 'done' });
  });
});

describe('the link in the patient list', () => {
  it("names the provider and the link's state, nothing without a link", () => {
    const providers = [{ id: 'php1', name: 'Springfield Clinic' }];
    expect(linkShort({ provider_id: null, link_approval: null }, providers)).toBe('');
    expect(linkShort({ provider_id: 'php1', link_approval: 'pending' }, providers)).toBe('Springfield Clinic: pending approval');
    expect(linkShort({ provider_id: 'php1', link_approval: 'approved' }, providers)).toBe('Springfield Clinic: linked');
    expect(linkShort({ provider_id: 'gone', link_approval: 'refused' }, providers)).toBe('Provider: link refused');
  });
});

describe('Sync from the provider now', () => {
  beforeEach(() => {
    invoke.mockReset();
    handlers.clear();
  });

  const show = (s: Status, p: Patient, onFinished = () => {}) =>
    render(
      <StatusContext.Provider value={s}>
        <SyncFromProvider patient={p} onFinished={onFinished} />
      </StatusContext.Provider>,
    );

  it('is disabled offline and before the link is approved, saying why', () => {
    show({ ...SIGNED_IN, online: false }, linked);
    expect((screen.getByText('Sync from the provider now') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText(/Needs a connection/)).toBeTruthy();
  });

  it('stops waiting when the app stops following a pull that goes on on the platform', async () => {
    invoke.mockImplementation((cmd: string) => (cmd === 'sync_patient' ? Promise.resolve(job('running')) : Promise.resolve(null)));
    const finished = vi.fn();
    show(SIGNED_IN, linked, finished);
    fireEvent.click(screen.getByText('Sync from the provider now'));
    expect(await screen.findByText('Pulling from the provider…')).toBeTruthy();
    await act(async () => handlers.get('pull-progress')!({ payload: { patient_id: 'p1', job: job('running', 2), following: false } }));
    expect(screen.getByText(/goes on on the platform; what it finds comes with a later sync/).id).toBe('pull-progress');
    expect((screen.getByText('Sync from the provider now') as HTMLButtonElement).disabled).toBe(false);
    expect(finished).not.toHaveBeenCalled();
  });

  it('waits for an approved link', () => {
    show(SIGNED_IN, { ...linked, link_approval: 'pending' });
    expect((screen.getByText('Sync from the provider now') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText(/once the link to the provider is approved/)).toBeTruthy();
  });

  it('starts the pull and shows its progress until it is done', async () => {
    invoke.mockImplementation((cmd: string) => (cmd === 'sync_patient' ? Promise.resolve(job('queued')) : Promise.resolve(null)));
    const finished = vi.fn();
    show(SIGNED_IN, linked, finished);
    fireEvent.click(screen.getByText('Sync from the provider now'));
    await waitFor(() => expect(invoke).toHaveBeenCalledWith('sync_patient', { patient_id: 'p1' }));
    expect((await screen.findByText(/Waiting for the platform/)).id).toBe('pull-progress');
    expect((screen.getByText('Pulling from the provider…') as HTMLButtonElement).disabled).toBe(true);

    await act(async () => handlers.get('pull-progress')!({ payload: { patient_id: 'other', job: job('done', 9, 9), following: false } }));
    expect(finished).not.toHaveBeenCalled();
    await act(async () => handlers.get('pull-progress')!({ payload: { patient_id: 'p1', job: job('running', 3, 1), following: true } }));
    expect(screen.getByText('Pulling: found 3, stored 1, updated 0, unchanged 0…')).toBeTruthy();
    await act(async () => handlers.get('pull-progress')!({ payload: { patient_id: 'p1', job: job('done', 3, 2, 0, 1), following: false } }));
    expect(screen.getByText('Done: found 3, stored 2, updated 0, unchanged 1.')).toBeTruthy();
    expect(finished).toHaveBeenCalledTimes(1);
    expect((screen.getByText('Sync from the provider now') as HTMLButtonElement).disabled).toBe(false);
  });
});

describe('the summary of documents', () => {
  beforeEach(() => invoke.mockReset());

  it('counts by type with the newest date, what is new since the last visit and the last pull', async () => {
    const digest: DocumentDigest = {
      kinds: [
        { type: 'lab report', count: 3, newest: '2026-11-20' },
        { type: 'progress note', count: 1, newest: '2026-10-02' },
      ],
      last_visit: '2026-11-25T09:00:00Z',
      new_since_last_visit: 2,
      last_pull: {
        id: 'l1',
        action: 'manual sync',
        timestamp: '2026-11-29T10:00:00Z',
        status: 'success',
        details: 'Found 3 documents at Springfield Clinic: 2 new.',
      },
      last_request: {
        id: 'l2',
        action: 'document request',
        timestamp: '2026-11-28T10:00:00Z',
        status: 'failure',
        details: 'Springfield Clinic did not fulfil the request (marked rejected).',
      },
    };
    invoke.mockResolvedValue(digest);
    render(<DocumentSummary patientId="p1" revision={1} />);
    expect((await screen.findByText(/2 new since your last visit/)).id).toBe('summary-new');
    const rows = [...document.querySelectorAll('#document-summary tbody tr')].map((r) => r.textContent);
    expect(rows).toEqual([`Lab report3${formatDate('2026-11-20')}`, `Progress note1${formatDate('2026-10-02')}`]);
    expect(screen.getByText(/Last pull from the provider .*: Found 3 documents at Springfield Clinic: 2 new./)).toBeTruthy();
    expect(invoke).toHaveBeenCalledWith('document_digest', { patient_id: 'p1' });
    const request = document.querySelector('#last-request')!;
    expect(request.textContent).toMatch(/: not fulfilled\. Springfield Clinic did not fulfil the request/);
    expect(request.className).toBe('warning');
  });
});
