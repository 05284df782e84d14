import { fireEvent, render, screen, within } from '@testing-library/preact';
import type { Status, User } from '../api';
import { StatusContext } from '../components';
import { birthWithAge } from '../lib/format';
import { account, SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { Users } = await import('./Users');

const admin: User = account({ id: 'u0', email: 'admin@example.org', name: 'Ada Admin', type: 'admin' });

const status: Status = { ...SIGNED_IN, user: admin, default_server: '', can: { create_patients: false, read_inquiries: false, manage_users: true, create_user_types: ['dietician', 'provider', 'patient'] } };

const users: User[] = [admin, account({ id: 'u1', email: 'dee@example.org', name: 'Dee Dietician', type: 'dietician' })];

function answer(command: string, args?: Record<string, unknown>) {
  switch (command) {
    case 'users':
      return Promise.resolve({ items: users });
    case 'providers':
      return Promise.resolve([
        { id: 'prov-1', name: 'Harbour Clinic' },
        { id: 'prov-2', name: 'Hill Surgery' },
      ]);
    case 'patients': {
      const all = [
        { id: 'pat-1', name: 'Ana Lima', email: 'ana@example.org', birth_date: '1978-04-12', sync_state: 'synced' },
        { id: 'pat-2', name: 'Bruno Okafor', email: 'bruno@example.org', birth_date: null, sync_state: 'synced' },
      ];
      const search = String(args?.search ?? '').toLowerCase();
      const items = all.filter((p) => p.name.toLowerCase().includes(search));
      return Promise.resolve({ total: items.length, offset: 0, items });
    }
    case 'create_user':
      return Promise.resolve({ id: 'new' });
    default:
      return Promise.resolve(null);
  }
}

function show(s: Status = status) {
  return render(
    <StatusContext.Provider value={s}>
      <Users />
    </StatusContext.Provider>,
  );
}

function fill(label: string, value: string) {
  fireEvent.input(screen.getByLabelText(label), { target: { value } });
}

function choose(label: string, value: string) {
  const select = screen.getByLabelText(label) as HTMLSelectElement;
  select.value = value;
  fireEvent.change(select);
}

const creations = () => invoke.mock.calls.filter(([c]) => c === 'create_user');

describe('Users', () => {
  beforeEach(() => {
    invoke.mockReset().mockImplementation(answer);
  });

  it('offers exactly the roles the rules allow, in words, and shows roles in words', async () => {
    show();
    await screen.findByText('Dee Dietician');
    const options = [...(screen.getByLabelText('Role') as HTMLSelectElement).options].filter((o) => o.value !== '');
    expect(options.map((o) => o.value)).toEqual(['dietician', 'provider', 'patient']);
    expect(options.map((o) => o.textContent)).toEqual(['Dietician', "Provider's staff", 'Patient']);
    // The table reads roles in words too.
    expect(within(screen.getByRole('table')).getByText('Clinic admin')).toBeTruthy();
    expect(within(screen.getByRole('table')).queryByText('admin')).toBeNull();
  });

  it('puts the heading outside the grid and the button in a row of buttons', () => {
    show();
    const heading = screen.getByRole('heading', { name: 'New user' });
    expect(heading.closest('.form-grid')).toBeNull();
    const button = screen.getByRole('button', { name: 'Create user' });
    expect(button.closest('.form-grid')).toBeNull();
    expect(button.parentElement?.classList.contains('buttons')).toBe(true);
  });

  it('asks a patient account for its patient record and sends its id', async () => {
    show();
    expect(screen.queryByLabelText('Patient record')).toBeNull();
    choose('Role', 'patient');
    const picker = (await screen.findByLabelText('Patient record')) as HTMLSelectElement;
    await screen.findByText(`Ana Lima · born ${birthWithAge('1978-04-12')}`);
    expect(screen.getByText('Bruno Okafor · birth date not recorded')).toBeTruthy();
    expect(invoke).toHaveBeenCalledWith('patients', { search: '', offset: 0, limit: 20 });

    fill('Find their patient record', 'ana');
    await vi.waitFor(() => expect(invoke).toHaveBeenCalledWith('patients', { search: 'ana', offset: 0, limit: 20 }));
    await vi.waitFor(() => expect(screen.queryByText('Bruno Okafor', { exact: false })).toBeNull());

    choose('Patient record', 'pat-1');
    expect(picker.value).toBe('pat-1');
    fill('Name', ' Ana Lima ');
    fill('Email', 'ana@example.org');
    fill('Initial password', 'long enough secret');
    fireEvent.submit(screen.getByRole('button', { name: 'Create user' }).closest('form')!);
    await vi.waitFor(() =>
      expect(creations()).toEqual([
        [
          'create_user',
          { user: { name: 'Ana Lima', email: 'ana@example.org', type: 'patient', password: 'long enough secret', patient_id: 'pat-1' } },
        ],
      ]),
    );
    // The confirmation is above the table, not inside the form.
    const done = await screen.findByText('Account created for Ana Lima.');
    expect(done.closest('form')).toBeNull();
    expect(done.compareDocumentPosition(screen.getByRole('table')) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it('asks a provider account for its provider and sends its id', async () => {
    show();
    choose('Role', 'provider');
    await screen.findByText('Hill Surgery');
    expect(invoke).toHaveBeenCalledWith('providers', undefined);
    choose('Provider', 'prov-2');
    fill('Name', 'Sam Staff');
    fill('Email', 'sam@example.org');
    fill('Initial password', 'long enough secret');
    fireEvent.submit(screen.getByRole('button', { name: 'Create user' }).closest('form')!);
    await vi.waitFor(() => expect(creations().length).toBe(1));
    expect(creations()[0][1]).toEqual({
      user: { name: 'Sam Staff', email: 'sam@example.org', type: 'provider', password: 'long enough secret', provider_id: 'prov-2' },
    });
    expect((creations()[0][1] as { user: object }).user).not.toHaveProperty('patient_id');
  });

  it('shows a field the platform refused beside that field', async () => {
    show();
    invoke.mockImplementation((command: string, args?: Record<string, unknown>) =>
      command === 'create_user'
        ? Promise.reject({ code: 'validation_failed', message: 'Email: already in use.', field: 'email' })
        : answer(command, args),
    );
    choose('Role', 'dietician');
    fill('Name', 'Dee Two');
    fill('Email', 'dee@example.org');
    fill('Initial password', 'long enough secret');
    fireEvent.submit(screen.getByRole('button', { name: 'Create user' }).closest('form')!);
    const message = await screen.findByText('Email: already in use.');
    const email = screen.getByLabelText('Email');
    expect(email.getAttribute('aria-invalid')).toBe('true');
    expect(email.getAttribute('aria-describedby')).toBe(message.id);
    expect(message.closest('.field')).toBe(email.closest('.field'));
    expect(screen.queryByText('Account created', { exact: false })).toBeNull();
    // Changed, it is no longer the field refused.
    fill('Email', 'dee2@example.org');
    expect(screen.queryByText('Email: already in use.')).toBeNull();
    expect(screen.getByLabelText('Email').getAttribute('aria-invalid')).toBeNull();
  });

  it('says user management needs a connection and disables the form offline', () => {
    show({ ...status, online: false });
    expect(screen.getByText(/needs a connection/)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Create user' }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByLabelText('Name').closest('fieldset') as HTMLFieldSetElement).disabled).toBe(true);
    expect(invoke).not.toHaveBeenCalledWith('users', undefined);
  });
});
