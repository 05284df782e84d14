import { fireEvent, render, screen } from '@testing-library/preact';
import type { Status } from './api';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: () => Promise.resolve(() => {}) }));

const { SyncBar } = await import('./app');
const { SignIn } = await import('./screens/SignIn');

const status: Status = {
  signed_in: true,
  server: 'http://127.0.0.1:8080',
  user: null,
  online: false,
  syncing: false,
  pending: 2,
  conflicts: 0,
  rejected: 0,
  last_sync: null,
  default_server: 'http://127.0.0.1:8080',
  notice: null,
};

describe('SyncBar', () => {
  it('shows offline and the pending count, and starts a sync', () => {
    invoke.mockResolvedValue(undefined);
    render(<SyncBar status={status} progress={null} />);
    expect(screen.getByText('Offline')).toBeTruthy();
    expect(screen.getByText('2 changes pending')).toBeTruthy();
    fireEvent.click(screen.getByText('Sync now'));
    expect(invoke).toHaveBeenCalledWith('sync_now', undefined);
  });

  it('shows push progress as a bar', () => {
    render(<SyncBar status={{ ...status, online: true, syncing: true }} progress={{ phase: 'pushed', done: 3, total: 4 }} />);
    expect(screen.getByText('Sending changes: 3 of 4')).toBeTruthy();
    const bar = screen.getByLabelText('Sync progress') as HTMLProgressElement;
    expect(bar.value).toBeCloseTo(0.75);
  });
});

describe('SignIn', () => {
  it('turns a refused sign-in into a readable message', async () => {
    invoke.mockRejectedValue({ code: 'unauthorized', message: 'The server refused the sign-in; sign in again' });
    render(<SignIn status={{ ...status, signed_in: false }} onSignedIn={() => {}} />);
    fireEvent.input(screen.getByLabelText('Email'), { target: { value: 'dee@example.org' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'nope' } });
    fireEvent.submit(screen.getByRole('button', { name: 'Sign in' }).closest('form')!);
    expect((await screen.findByRole('alert')).textContent).toBe('Wrong email or password.');
    expect(invoke).toHaveBeenCalledWith('sign_in', {
      server: 'http://127.0.0.1:8080',
      email: 'dee@example.org',
      password: 'nope',
    });
  });
});
