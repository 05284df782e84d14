import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import type { Job, Status } from '../api';
import { StatusContext } from '../components';
import { account, SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { CarepatronPanel, Jobs } = await import('./Jobs');

const admin: Status = {
  ...SIGNED_IN,
  user: account({ id: 'a1', email: 'ada@example.org', name: 'Ada', type: 'admin' }),
  can: { create_patients: false, read_inquiries: false, manage_users: true, create_user_types: ['admin'] },
};

const parked = (id: string, patient: string, why: string): Job => ({
  id,
  kind: 'pull',
  patient_id: patient,
  inquiry_id: null,
  cause: 'schedule',
  attempts: 3,
  run_at: '2026-11-29T10:00:00Z',
  updated_at: '2026-11-29T10:05:00Z',
  status: 'parked',
  progress: { found: 0, stored: 0, updated: 0, unchanged: 0, removed: 0, skipped: 0 },
  last_error: why,
});

describe('Jobs', () => {
  beforeEach(() => {
    invoke.mockReset();
  });

  it('shows stopped jobs with their reason and runs one, or all of a patient, again', async () => {
    let listed = [
      parked('j1', 'p1', 'Springfield Clinic refused the platform’s key: register the key set again.'),
      parked('j2', 'p1', 'Springfield Clinic did not answer.'),
      parked('j3', 'p2', 'Springfield Clinic did not answer.'),
    ];
    invoke.mockImplementation((cmd: string, args: { id?: string }) => {
      if (cmd === 'jobs') return Promise.resolve(listed);
      if (cmd === 'carepatron_state')
        return Promise.resolve({ configured: true, last_poll: '2026-11-29T10:00:00Z', last_feed: '2026-11-29T10:01:00Z', waiting: 2, parked: 1, last_error: 'Carepatron answered 503; tried again.' });
      if (cmd === 'replay_job') {
        listed = listed.filter((j) => j.id !== args.id);
        return Promise.resolve({ ...parked(args.id!, 'p1', ''), status: 'queued' });
      }
      return Promise.reject(new Error(cmd));
    });
    render(
      <StatusContext.Provider value={admin}>
        <Jobs />
      </StatusContext.Provider>,
    );
    const first = (await screen.findByText(/refused the platform’s key/)).closest('tr')!;
    const carepatron = document.querySelector('#carepatron-state')!;
    expect(carepatron.textContent).toMatch(/2 updates wait; 1 stopped\./);
    expect(carepatron.textContent).toMatch(/Last failure: Carepatron answered 503/);
    expect(first.textContent).toMatch(/Stopped after 3 attempts/);
    expect(first.textContent).toMatch(/Pull from the provider \(on schedule\)/);
    expect(invoke).toHaveBeenCalledWith('jobs', { state: 'parked' });
    // Two of p1's jobs stopped: the first row offers both again, p2's only its own.
    expect(first.querySelector('.replay-patient')!.textContent).toBe('Run all 2 of this patient again');
    expect(document.querySelector("tr[data-job-id='j3'] .replay-patient")).toBeNull();

    fireEvent.click(first.querySelector('.replay-patient')!);
    await waitFor(() => expect(screen.getByText('2 jobs run again.').id).toBe('jobs-replayed'));
    expect(invoke).toHaveBeenCalledWith('replay_job', { id: 'j1' });
    expect(invoke).toHaveBeenCalledWith('replay_job', { id: 'j2' });
    await waitFor(() => expect(document.querySelectorAll('tr[data-job-id]').length).toBe(1));
  });

  it("shows an inquiry's email as about no patient, and never groups such jobs as one patient's", async () => {
    const email = (id: string, inquiry: string): Job => ({
      ...parked(id, 'unused', 'The mail server refused the message.'),
      kind: 'email',
      patient_id: null,
      inquiry_id: inquiry,
      cause: 'created',
    });
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'jobs') return Promise.resolve([email('e1', 'i1'), email('e2', 'i2')]);
      if (cmd === 'carepatron_state') return Promise.resolve({ configured: false, last_poll: null, last_feed: null, waiting: 0, parked: 0, last_error: null });
      return Promise.reject(new Error(cmd));
    });
    render(
      <StatusContext.Provider value={admin}>
        <Jobs />
      </StatusContext.Provider>,
    );
    await waitFor(() => expect(document.querySelectorAll('tr[data-job-id]').length).toBe(2));
    const row = document.querySelector("tr[data-job-id='e1']")!;
    expect(row.textContent).toMatch(/Email about a new inquiry \(the patient was linked, or an inquiry arrived\)/);
    expect(row.querySelector('.no-patient')!.textContent).toBe('An inquiry (no patient)');
    expect(row.querySelector('a')).toBeNull();
    expect(screen.queryByText('Open patient')).toBeNull();
    // Two stopped emails of no patient are not "all 2 of this patient".
    expect(document.querySelector('.replay-patient')).toBeNull();
    expect(document.querySelectorAll('.replay').length).toBe(2);
  });

  it('says that jobs need a connection, and asks nothing offline', async () => {
    render(
      <StatusContext.Provider value={{ ...admin, online: false }}>
        <Jobs />
      </StatusContext.Provider>,
    );
    expect((await screen.findByText(/connect to see them/)).id).toBe('jobs-offline');
    expect(invoke).not.toHaveBeenCalled();
  });

  it('says when Carepatron is not set up', () => {
    render(<CarepatronPanel state={{ configured: false, last_poll: null, last_feed: null, waiting: 0, parked: 0, last_error: null }} />);
    expect(screen.getByText(/Carepatron: not set up on the platform/).getAttribute('data-configured')).toBe('false');
  });
});
