import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type User } from '../api';
import { ConfirmButton, ErrorMessage, Field, Page, useStatus } from '../components';

const ROLES = ['admin', 'dietician', 'practitioner', 'provider', 'patient'] as const;

export function Users() {
  const status = useStatus();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [form, setForm] = useState({ name: '', email: '', type: 'dietician', password: '' });
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);

  const load = () => call<{ items: User[] }>('users').then((p) => setUsers(p.items), setError);
  useEffect(() => {
    if (status?.online) load();
  }, [status?.online]);

  if (status?.user?.type !== 'admin') {
    return (
      <Page title="Users">
        <p>Only administrators manage users.</p>
      </Page>
    );
  }

  async function create(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await call('create_user', { user: form });
      setForm({ name: '', email: '', type: 'dietician', password: '' });
      load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  async function remove(u: User) {
    try {
      await call('delete_user', { id: u.id });
      load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  async function rename(e: Event) {
    e.preventDefault();
    if (!renaming) return;
    try {
      await call('update_user', { id: renaming.id, fields: { name: renaming.name.trim() } });
      setRenaming(null);
      load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <Page title="Users">
      {!status.online && <p class="warning">User management needs a connection.</p>}
      <ErrorMessage error={error} />
      {users && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id}>
                <td>
                  {renaming?.id === u.id ? (
                    <form class="inline" onSubmit={rename}>
                      <label class="visually-hidden" for={`rename-${u.id}`}>
                        New name
                      </label>
                      <input id={`rename-${u.id}`} required value={renaming.name} onInput={(e) => setRenaming({ id: u.id, name: e.currentTarget.value })} />
                      <button type="submit">Save</button>
                      <button type="button" onClick={() => setRenaming(null)}>
                        Cancel
                      </button>
                    </form>
                  ) : (
                    u.name
                  )}
                </td>
                <td>{u.email}</td>
                <td>{u.type}</td>
                <td>
                  <button type="button" class="link" onClick={() => setRenaming({ id: u.id, name: u.name })}>
                    Rename
                  </button>{' '}
                  {u.id !== status.user?.id && (
                    <ConfirmButton label="Remove" question={`Remove ${u.name}'s account?`} confirm="Remove" onConfirm={() => remove(u)} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="panel form-grid" onSubmit={create} aria-labelledby="new-user-title">
        <h2 id="new-user-title">New user</h2>
        <Field label="Name" id="user-name">
          <input id="user-name" required value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
        </Field>
        <Field label="Email" id="user-email">
          <input id="user-email" type="email" required value={form.email} onInput={(e) => setForm({ ...form, email: e.currentTarget.value })} />
        </Field>
        <Field label="Role" id="user-type">
          <select id="user-type" value={form.type} onChange={(e) => setForm({ ...form, type: e.currentTarget.value })}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </Field>
        <Field label="Initial password" id="user-password" hint="At least 10 characters.">
          <input id="user-password" type="password" minLength={10} required value={form.password} onInput={(e) => setForm({ ...form, password: e.currentTarget.value })} />
        </Field>
        <button type="submit" class="primary" disabled={!status.online}>
          Create user
        </button>
      </form>
    </Page>
  );
}
