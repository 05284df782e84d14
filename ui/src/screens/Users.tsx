// User accounts (those the platform's rules let manage them): the list, renaming and removing,
// and a new account of one of the roles this person may create (`status.can`).
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, type AppError, type JsonValue, type PatientPage, type PatientSummary, type ProviderEntry, type User, type UserType } from '../api';
import { ConfirmButton, ErrorMessage, Field, Page, useStatus } from '../components';
import { birthWithAge } from '../lib/format';

/** Each role in words. */
export const ROLE_LABELS: Record<UserType, string> = {
  admin: 'Clinic admin',
  dietician: 'Dietician',
  practitioner: 'Practitioner',
  provider: "Provider's staff",
  patient: 'Patient',
};

export function roleLabel(type: string | null | undefined): string {
  return (type && ROLE_LABELS[type as UserType]) || '';
}

interface Form {
  name: string;
  email: string;
  type: UserType | '';
  password: string;
  provider_id: string;
  patient_id: string;
}

const EMPTY: Form = { name: '', email: '', type: '', password: '', provider_id: '', patient_id: '' };

/** The platform's field names, and the input each one is typed in. */
const FIELD_INPUTS: Record<string, string> = {
  name: 'user-name',
  email: 'user-email',
  type: 'user-type',
  password: 'user-password',
  provider_id: 'user-provider',
  patient_id: 'user-patient',
};

export function Users() {
  const status = useStatus();
  const online = !!status?.online;
  const types = status?.can?.create_user_types ?? [];
  const manages = !!status?.can?.manage_users;
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const confirmation = useRef<HTMLParagraphElement>(null);

  const load = () =>
    call('users').then(
      (p) => setUsers(p.items),
      (e) => setError(e as AppError),
    );
  useEffect(() => {
    if (online && manages) load();
  }, [online, manages]);

  useEffect(() => {
    if (created) confirmation.current?.focus();
  }, [created]);

  if (!manages && types.length === 0) {
    return (
      <Page title="Users">
        <p>Your role does not manage user accounts.</p>
      </Page>
    );
  }

  async function remove(u: User) {
    setError(null);
    setCreated(null);
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
    setError(null);
    setCreated(null);
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
      {!online && (
        <p class="warning" id="users-offline">
          User management needs a connection to the platform. Connect to the internet to see, add or change accounts.
        </p>
      )}
      <ErrorMessage error={error} />
      {created && (
        <p class="notice success" role="status" id="user-created" tabIndex={-1} ref={confirmation}>
          Account created for {created}.
        </p>
      )}
      {manages && users && (
        <table id="users">
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
              <tr key={u.id} data-user-email={u.email}>
                <td>
                  {renaming?.id === u.id ? (
                    <form class="inline" onSubmit={rename}>
                      <label class="visually-hidden" for={`rename-${u.id}`}>
                        New name
                      </label>
                      <input id={`rename-${u.id}`} required value={renaming.name} onInput={(e) => setRenaming({ id: u.id, name: e.currentTarget.value })} />
                      <button type="submit" disabled={!online}>
                        Save
                      </button>
                      <button type="button" onClick={() => setRenaming(null)}>
                        Cancel
                      </button>
                    </form>
                  ) : (
                    u.name
                  )}
                </td>
                <td>{u.email}</td>
                <td>{roleLabel(u.type)}</td>
                <td>
                  <button type="button" class="link" disabled={!online} onClick={() => setRenaming({ id: u.id, name: u.name })}>
                    Rename
                  </button>{' '}
                  {u.id !== status?.user?.id && online && (
                    <ConfirmButton label="Remove" question={`Remove ${u.name}'s account?`} confirm="Remove" onConfirm={() => remove(u)} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {types.length > 0 && (
        <NewUser
          types={types}
          online={online}
          onCreated={(name) => {
            setError(null);
            setCreated(name);
            if (manages) load();
          }}
          onStart={() => setCreated(null)}
        />
      )}
    </Page>
  );
}

function NewUser(props: { types: UserType[]; online: boolean; onCreated: (name: string) => void; onStart: () => void }) {
  const { types, online } = props;
  const [form, setForm] = useState<Form>(EMPTY);
  const [error, setError] = useState<AppError | null>(null);
  const [busy, setBusy] = useState(false);
  const type = form.type && types.includes(form.type) ? form.type : '';
  const update = (next: Form, key: keyof Form) => {
    // A blamed field, once changed, is no longer the one refused.
    if (error?.field === key) setError(null);
    setForm(next);
  };
  const set = (key: keyof Form) => (e: Event) => update({ ...form, [key]: (e.currentTarget as HTMLInputElement).value }, key);

  // The platform blames one field: shown beside it; anything else above the button.
  const fieldError = (field: string) => (error?.field === field ? error.message : null);
  const general = error && !(error.field && error.field in FIELD_INPUTS) ? error : null;
  const invalid = (field: string) => (fieldError(field) ? { 'aria-invalid': true, 'aria-describedby': `${FIELD_INPUTS[field]}-error` } : {});

  async function create(e: Event) {
    e.preventDefault();
    if (!type || busy) return;
    setError(null);
    props.onStart();
    setBusy(true);
    const user: Record<string, JsonValue> = {
      name: form.name.trim(),
      email: form.email.trim(),
      type,
      password: form.password,
    };
    if (type === 'provider') user.provider_id = form.provider_id;
    if (type === 'patient') user.patient_id = form.patient_id;
    try {
      await call('create_user', { user });
      setForm({ ...EMPTY, type });
      props.onCreated(user.name as string);
    } catch (err) {
      setError(err as AppError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="panel" aria-labelledby="new-user-title">
      <h2 id="new-user-title">New user</h2>
      <form onSubmit={create} aria-labelledby="new-user-title" id="new-user">
        <fieldset class="form-grid" disabled={!online}>
          <legend class="visually-hidden">The new user's details</legend>
          <Field label="Name" id="user-name">
            <input id="user-name" required maxLength={200} value={form.name} onInput={set('name')} {...invalid('name')} />
            <FieldError id="user-name" message={fieldError('name')} />
          </Field>
          <Field label="Email" id="user-email">
            <input id="user-email" type="email" required value={form.email} onInput={set('email')} {...invalid('email')} />
            <FieldError id="user-email" message={fieldError('email')} />
          </Field>
          <Field label="Role" id="user-type">
            <select id="user-type" required value={type} onChange={(e) => update({ ...form, type: e.currentTarget.value as UserType | '' }, 'type')} {...invalid('type')}>
              <option value="" disabled>
                Choose a role
              </option>
              {types.map((t) => (
                <option key={t} value={t}>
                  {ROLE_LABELS[t] ?? t}
                </option>
              ))}
            </select>
            <FieldError id="user-type" message={fieldError('type')} />
          </Field>
          {type === 'provider' && (
            <ProviderPicker
              online={online}
              value={form.provider_id}
              onChange={(provider_id) => update({ ...form, provider_id }, 'provider_id')}
              error={fieldError('provider_id')}
            />
          )}
          {type === 'patient' && (
            <PatientPicker value={form.patient_id} onChange={(patient_id) => update({ ...form, patient_id }, 'patient_id')} error={fieldError('patient_id')} />
          )}
          <Field label="Initial password" id="user-password" hint="At least 10 characters. Give it to the person; they can change it later.">
            <input
              id="user-password"
              type="password"
              autoComplete="new-password"
              minLength={10}
              required
              value={form.password}
              onInput={set('password')}
              aria-invalid={fieldError('password') ? true : undefined}
              aria-describedby={fieldError('password') ? 'user-password-error user-password-hint' : 'user-password-hint'}
            />
            <FieldError id="user-password" message={fieldError('password')} />
          </Field>
        </fieldset>
        <ErrorMessage error={general} />
        <div class="buttons">
          <button type="submit" class="primary" id="create-user" disabled={!online || busy || !type}>
            {busy ? 'Creating…' : 'Create user'}
          </button>
        </div>
      </form>
    </section>
  );
}

function FieldError({ id, message }: { id: string; message: string | null }) {
  if (!message) return null;
  return (
    <small class="field-error error" id={`${id}-error`}>
      {message}
    </small>
  );
}

/** The provider a provider's staff member works for (from the platform: admins, online). */
function ProviderPicker(props: { online: boolean; value: string; onChange: (id: string) => void; error: string | null }) {
  const [providers, setProviders] = useState<ProviderEntry[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  useEffect(() => {
    if (!props.online) return;
    setError(null);
    call('providers').then(setProviders, (e) => setError(e as AppError));
  }, [props.online]);
  const described = [props.error && 'user-provider-error', providers?.length === 0 && 'user-provider-none'].filter(Boolean).join(' ');
  return (
    <Field label="Provider" id="user-provider">
      <select
        id="user-provider"
        required
        value={props.value}
        onChange={(e) => props.onChange(e.currentTarget.value)}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={described || undefined}
        aria-busy={providers === null && !error ? true : undefined}
      >
        <option value="" disabled>
          {providers === null && !error ? 'Loading…' : 'Choose their provider'}
        </option>
        {providers?.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
      {providers?.length === 0 && (
        <small id="user-provider-none">No providers are registered on the platform yet.</small>
      )}
      <ErrorMessage error={error} />
      <FieldError id="user-provider" message={props.error} />
    </Field>
  );
}

/** The patient record a patient's account opens: found by name among this computer's patients. */
function PatientPicker(props: { value: string; onChange: (id: string) => void; error: string | null }) {
  const [search, setSearch] = useState('');
  const [page, setPage] = useState<PatientPage | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  useEffect(() => {
    let current = true;
    const t = setTimeout(() => {
      call('patients', { search: search.trim(), offset: 0, limit: 20 }).then(
        (p) => current && setPage(p),
        (e) => current && setError(e as AppError),
      );
    }, 150);
    return () => {
      current = false;
      clearTimeout(t);
    };
  }, [search]);

  const items = page?.items ?? [];
  // The chosen patient stays an option while other searches run.
  const [chosen, setChosen] = useState<PatientSummary | null>(null);
  const options = chosen && !items.some((p) => p.id === chosen.id) && chosen.id === props.value ? [chosen, ...items] : items;
  const more = page && page.total > items.length ? `Showing ${items.length} of ${page.total}: type more of the name to narrow the list.` : null;
  const described = [props.error && 'user-patient-error', 'user-patient-hint'].filter(Boolean).join(' ');

  return (
    <div class="field">
      <label for="user-patient-search">Find their patient record</label>
      <input
        id="user-patient-search"
        type="search"
        placeholder="Name, email or birth date"
        autoComplete="off"
        value={search}
        onInput={(e) => setSearch(e.currentTarget.value)}
      />
      <label for="user-patient">Patient record</label>
      <select
        id="user-patient"
        required
        value={props.value}
        onChange={(e) => {
          const id = e.currentTarget.value;
          setChosen(options.find((p) => p.id === id) ?? null);
          props.onChange(id);
        }}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={described}
      >
        <option value="" disabled>
          {page === null ? 'Loading…' : items.length === 0 ? 'No patient matches' : 'Choose the patient'}
        </option>
        {options.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name} · {p.birth_date ? `born ${birthWithAge(p.birth_date)}` : 'birth date not recorded'}
          </option>
        ))}
      </select>
      <small id="user-patient-hint">{more ?? 'The account opens this patient record and nothing else.'}</small>
      <ErrorMessage error={error} />
      <FieldError id="user-patient" message={props.error} />
    </div>
  );
}
