import { fireEvent, render, screen } from '@testing-library/preact';
import type { Status } from '../api';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { SignIn } = await import('./SignIn');

const status: Status = { ...SIGNED_IN, signed_in: false, server: null, user: null, default_server: 'https://records.example.org', can: { create_patients: false, read_inquiries: false, manage_users: false, create_user_types: [] } };

const advanced = () => document.querySelector('#advanced') as HTMLDetailsElement;
const server = () => document.querySelector('#server') as HTMLInputElement;

describe('SignIn', () => {
  beforeEach(() => {
    invoke.mockReset();
  });

  it('keeps the practice’s server under Advanced, closed, and signs in with it', async () => {
    invoke.mockResolvedValue({ ...status, signed_in: true });
    render(<SignIn status={status} onSignedIn={() => {}} />);
    expect(advanced().open).toBe(false);
    expect(server().closest('details')).toBe(advanced());
    expect(server().value).toBe('https://records.example.org');
    fireEvent.input(screen.getByLabelText('Email'), { target: { value: ' dee@example.org ' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'secret' } });
    fireEvent.submit(screen.getByRole('button', { name: 'Sign in' }).closest('form')!);
    await vi.waitFor(() =>
      expect(invoke).toHaveBeenCalledWith('sign_in', { server: 'https://records.example.org', email: 'dee@example.org', password: 'secret' }),
    );
  });

  it('opens Advanced when there is no server to offer', () => {
    render(<SignIn status={{ ...status, default_server: '' }} onSignedIn={() => {}} />);
    expect(advanced().open).toBe(true);
    fireEvent.input(server(), { target: { value: 'https://other.example.org' } });
    expect(server().value).toBe('https://other.example.org');
  });

  it('opens Advanced when the server could not be reached', async () => {
    invoke.mockImplementation(() => Promise.reject({ code: 'offline', message: 'The server cannot be reached.' }));
    render(<SignIn status={status} onSignedIn={() => {}} />);
    fireEvent.input(screen.getByLabelText('Email'), { target: { value: 'dee@example.org' } });
    fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'secret' } });
    fireEvent.submit(screen.getByRole('button', { name: 'Sign in' }).closest('form')!);
    await vi.waitFor(() => expect(document.querySelector('[role=alert]')?.textContent).toBe('The server cannot be reached.'));
    expect(advanced().open).toBe(true);
  });
});
