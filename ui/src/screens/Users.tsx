import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type User } from '../api';
import { ErrorMessage, Field, Page, useStatus } from '../components';

const ROLES = ['admin', 'dietician', 'practitioner', 'provider', 'patient'] as const;

export function Users() {
  const status = useStatus();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [form, setForm] = useState({ name: '', email: '', type: 'dietician', password: '' });

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
    if (!confirm(`Remove ${u.name}'s account?`)) return;
    try {
      await call('delete_user', { id: u.id });
      load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  async function rename(u: User) {
    const name = prompt('New name', u.name);
    if (!name || name === u.name) return;
    try {
      await call('update_user', { id: u.id, fields: { name } });
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
                <td>{u.name}</td>
                <td>{u.email}</td>
                <td>{u.type}</td>
                <td>
                  <button type="button" class="link" onClick={() => rename(u)}>
                    Rename
                  </button>{' '}
                  {u.id !== status.user?.id && (
                    <button type="button" class="link danger" onClick={() => remove(u)}>
                      Remove
                    </button>
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
