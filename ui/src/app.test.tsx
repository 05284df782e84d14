import { fireEvent, render, screen } from '@testing-library/preact';
import type { Status } from './api';
import { SIGNED_IN } from './test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: () => Promise.resolve(() => {}) }));

const { SyncBar, navFor } = await import('./app');
const { SignIn } = await import('./screens/SignIn');

const status: Status = { ...SIGNED_IN, user: null, online: false, pending: 2 };

describe('SyncBar', () => {
  it('shows offline and the pending count, and starts a sync', () => {
    invoke.mockResolvedValue(undefined);
    render(<SyncBar status={status} progress={null} />);
    expect(screen.getByText('Offline')).toBeTruthy();
    expect(screen.getByText('2 changes to send')).toBeTruthy();
    fireEvent.click(screen.getByText('Sync now'));
    expect(invoke).toHaveBeenCalledWith('sync_now', undefined);
  });

  it('never says all sent while the platform refused a change, and links to it', () => {
    render(<SyncBar status={{ ...status, pending: 0, rejected: 1 }} progress={null} />);
    expect(screen.queryByText('All changes sent')).toBeNull();
    const link = screen.getByText('1 change refused') as HTMLAnchorElement;
    expect(link.getAttribute('href')).toBe('#/conflicts');
    render(<SyncBar status={{ ...status, pending: 0, rejected: 0 }} progress={null} />);
    expect(screen.getByText('All changes sent')).toBeTruthy();
  });

  it('shows push progress as a bar', () => {
    render(<SyncBar status={{ ...status, online: true, syncing: true }} progress={{ phase: 'pushed', done: 3, total: 4 }} />);
    expect(screen.getByText('Sending changes: 3 of 4')).toBeTruthy();
    const bar = screen.getByLabelText('Sync progress') as HTMLProgressElement;
    expect(bar.value).toBeCloseTo(0.75);
  });

  it('shows files on their way in bytes', () => {
    render(<SyncBar status={{ ...status, online: true, syncing: true }} progress={{ phase: 'sending', sent: 1024 * 1024, total: 4 * 1024 * 1024 }} />);
    expect(screen.getByText('Sending files: 1.0 MB of 4.0 MB')).toBeTruthy();
    const bar = screen.getByLabelText('Sync progress') as HTMLProgressElement;
    expect(bar.value).toBeCloseTo(0.25);
  });
});

describe('navigation', () => {
  it('offers Users only to those the rules let manage or create users', () => {
    const screens = (can: Status['can']) => navFor({ ...status, can }).map(([s]) => s);
    expect(screens({ create_patients: false, read_inquiries: false, manage_users: false, create_user_types: [] })).not.toContain('users');
    // A dietician may create patient accounts.
    expect(screens({ create_patients: true, read_inquiries: true, manage_users: false, create_user_types: ['patient'] })).toContain('users');
    expect(screens({ create_patients: false, read_inquiries: false, manage_users: true, create_user_types: ['admin'] })).toContain('users');
  });

  it('offers an administrator no screens of patient data kept on the computer', () => {
    const admin: Status = {
      ...status,
      user: { ...SIGNED_IN.user!, type: 'admin' },
      can: { create_patients: false, read_inquiries: false, manage_users: true, create_user_types: ['admin'] },
    };
    const screens = navFor(admin).map(([s]) => s);
    expect(screens).toEqual(['patients', 'providers', 'links', 'jobs', 'audit', 'conflicts', 'users', 'profile']);
    expect(navFor(status).map(([s]) => s)).toContain('documents');
  });
});

describe('inquiries', () => {
  it('offers a dietician Inquiries after Patients, an administrator never', () => {
    const dietician: Status = { ...SIGNED_IN };
    expect(navFor(dietician).map(([s]) => s).slice(0, 2)).toEqual(['patients', 'inquiries']);
    expect(navFor({ ...dietician, can: { ...dietician.can, read_inquiries: false } }).map(([s]) => s)).not.toContain('inquiries');
    const admin: Status = {
      ...SIGNED_IN,
      user: { ...SIGNED_IN.user!, type: 'admin' },
      can: { create_patients: false, read_inquiries: true, manage_users: true, create_user_types: ['admin'] },
    };
    expect(navFor(admin).map(([s]) => s)).not.toContain('inquiries');
  });

  it('counts the new ones beside the link and opens the list at #/inquiries', async () => {
    window.location.hash = '#/inquiries';
    invoke.mockReset();
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'startup_error') return Promise.resolve(null);
      if (cmd === 'status') return Promise.resolve({ ...SIGNED_IN, new_inquiries: 3 });
      if (cmd === 'inquiries') return Promise.resolve([]);
      if (cmd === 'providers') return Promise.resolve([]);
      return Promise.reject({ code: 'test', message: cmd });
    });
    const { App } = await import('./app');
    render(<App />);
    const badge = await screen.findByLabelText('3 new');
    expect(badge.textContent).toBe('3');
    expect(badge.closest('a')!.getAttribute('href')).toBe('#/inquiries');
    expect((await screen.findByText('No inquiries here.')).id).toBe('inquiries-empty');
    expect(invoke).toHaveBeenCalledWith('inquiries', { status: 'new' });
    window.location.hash = '';
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
