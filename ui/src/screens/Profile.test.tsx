import { fireEvent, render, screen } from '@testing-library/preact';
import type { Status } from '../api';
import { StatusContext } from '../components';
import { account, SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: () => Promise.resolve(() => {}) }));

const { Profile, unsentWords } = await import('./Profile');

const status: Status = { ...SIGNED_IN, server: 'https://records.example.org:8443/', user: account({ id: 'u1', email: 'dee@example.org', name: 'Dee Dietician', type: 'dietician' }), default_server: '' };

function show(s: Status) {
  return render(
    <StatusContext.Provider value={s}>
      <Profile />
    </StatusContext.Provider>,
  );
}

/** What the screen reads: the profile, and this computer's disk use. */
const answers: Record<string, unknown> = {
  profile: status.user,
  disk_use: { replica_bytes: 1 << 20, files_here: 0, file_bytes: 0, files_elsewhere: 0, patients_kept: 0, budget_bytes: null },
};

const signOuts = () => invoke.mock.calls.filter(([c]) => c === 'sign_out');

describe('Profile', () => {
  beforeEach(() => {
    window.location.hash = '#/profile';
    invoke.mockReset().mockImplementation((command: string) => Promise.resolve(answers[command] ?? null));
  });

  it('shows the role in words and the server by its host', () => {
    show(status);
    expect(screen.getByText('Dietician')).toBeTruthy();
    expect(screen.getByText('records.example.org:8443')).toBeTruthy();
  });

  it('names unsent and refused changes, offers a sync first, and discards only when told', async () => {
    show({ ...status, pending: 2, rejected: 1 });
    fireEvent.click(screen.getByText('Sign out'));
    expect(screen.getByText('2 changes have not reached the platform, 1 change was refused by it.')).toBeTruthy();

    const dialog = screen.getByRole('alertdialog');
    const controls = [...dialog.querySelectorAll('button, a')].map((b) => b.textContent);
    expect(controls[0]).toBe('Sync now');
    expect(controls).toContain('Sign out and discard them');
    expect(screen.getByText('Open Conflicts').getAttribute('href')).toBe('#/conflicts');

    fireEvent.click(screen.getByText('Sync now'));
    expect(invoke).toHaveBeenCalledWith('sync_now', undefined);
    expect(signOuts()).toEqual([]);

    fireEvent.click(screen.getByText('Sign out and discard them'));
    await vi.waitFor(() => expect(signOuts()).toEqual([['sign_out', { discard: true }]]));
  });

  it('asks simply when nothing is waiting, and never discards', async () => {
    show(status);
    fireEvent.click(screen.getByText('Sign out'));
    expect(screen.queryByText('Sign out and discard them')).toBeNull();
    expect(screen.queryByText('Sync now')).toBeNull();
    fireEvent.click(document.querySelector('#confirm-sign-out')!);
    await vi.waitFor(() => expect(signOuts()).toEqual([['sign_out', { discard: false }]]));
    await vi.waitFor(() => expect(window.location.hash).toBe('#/patients'));
  });

  it('keeps the person signed in when a change arrived meanwhile', async () => {
    invoke.mockImplementation((command: string) =>
      command === 'sign_out'
        ? Promise.reject({ code: 'unsent_changes', message: '1 change has not reached the platform yet.' })
        : Promise.resolve(answers[command] ?? null),
    );
    show(status);
    fireEvent.click(screen.getByText('Sign out'));
    fireEvent.click(document.querySelector('#confirm-sign-out')!);
    const alert = await screen.findByText('1 change has not reached the platform yet.');
    expect(alert.getAttribute('data-code')).toBe('unsent_changes');
    expect(window.location.hash).toBe('#/profile');
    expect(signOuts()).toEqual([['sign_out', { discard: false }]]);
  });

  it('words the counts', () => {
    expect(unsentWords(0, 0)).toBeNull();
    expect(unsentWords(1, 0)).toBe('1 change has not reached the platform');
    expect(unsentWords(0, 3)).toBe('3 changes were refused by the platform');
    expect(unsentWords(0, 0, 1)).toBe('1 conflict waits for your decision');
  });
});
