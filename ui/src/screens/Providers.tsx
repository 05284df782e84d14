// Admin: the Primary Healthcare Providers (PHPs) the platform pulls from, and how it signs in
// at each: a new one, its settings changed, the public key set to hand to the PHP, and "Test
// connection" (discovery, a token, a count-only search) in words. Online only.
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type AuthMode, type ConnectionStep, type NewProvider, type ProviderSettings } from '../api';
import { ConfirmButton, ErrorMessage, Field, Page, useStatus } from '../components';

const MODES: Record<AuthMode, string> = {
  none: 'None (an open server)',
  bearer: 'A fixed token from the PHP',
  'smart-backend': 'SMART backend services (signed client assertion)',
};

interface Form {
  name: string;
  fhir_base_url: string;
  mode: AuthMode;
  token: string;
  client_id: string;
  scope: string;
  token_url: string;
}

const EMPTY: Form = { name: '', fhir_base_url: '', mode: 'smart-backend', token: '', client_id: '', scope: '', token_url: '' };

function formOf(p: ProviderSettings): Form {
  return {
    name: p.name,
    fhir_base_url: p.fhir_base_url,
    mode: p.auth_mode,
    token: '',
    client_id: p.client_id ?? '',
    scope: p.scope ?? '',
    token_url: p.token_url ?? '',
  };
}

/** The request body the platform takes; empty optional fields are left out. */
export function providerBody(f: Form): NewProvider {
  const optional = (v: string) => (v.trim() ? v.trim() : null);
  const auth: NewProvider['auth'] =
    f.mode === 'none'
      ? { mode: 'none' }
      : f.mode === 'bearer'
        ? { mode: 'bearer', token: f.token.trim() }
        : { mode: 'smart-backend', client_id: f.client_id.trim(), scope: optional(f.scope), token_url: optional(f.token_url), private_key_pem: null, key_id: null };
  return { name: f.name.trim(), fhir_base_url: f.fhir_base_url.trim(), auth };
}

export function Providers() {
  const status = useStatus();
  const online = !!status?.online;
  const [providers, setProviders] = useState<ProviderSettings[] | null>(null);
  const [editing, setEditing] = useState<{ id: string | null; form: Form } | null>(null);
  const [checks, setChecks] = useState<Record<string, ConnectionStep[] | 'running'>>({});
  const [error, setError] = useState<AppError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  const load = () => call('provider_settings').then(setProviders, setError);
  useEffect(() => {
    if (online) load();
  }, [online]);

  async function save(e: Event) {
    e.preventDefault();
    if (!editing) return;
    setError(null);
    try {
      const p = await call('save_provider', { id: editing.id, provider: providerBody(editing.form) });
      setSaved(`${p.name} is saved.${p.auth_mode === 'smart-backend' ? ' Hand the PHP its public key set (below).' : ''}`);
      setEditing(null);
      await load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  async function test(id: string) {
    setChecks((c) => ({ ...c, [id]: 'running' }));
    try {
      const steps = await call('test_provider', { id });
      setChecks((c) => ({ ...c, [id]: steps }));
    } catch (err) {
      setChecks((c) => ({ ...c, [id]: [] }));
      setError(err as AppError);
    }
  }

  async function remove(p: ProviderSettings) {
    setError(null);
    try {
      await call('delete_provider', { id: p.id });
      setSaved(`${p.name} is removed.`);
      await load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  const set = (key: keyof Form) => (e: Event) =>
    editing && setEditing({ ...editing, form: { ...editing.form, [key]: (e.currentTarget as HTMLInputElement).value } });

  return (
    <Page
      title="Providers"
      actions={
        <button type="button" class="primary" id="new-provider" disabled={!online} onClick={() => setEditing({ id: null, form: EMPTY })}>
          New provider
        </button>
      }
    >
      {!online && (
        <p class="warning" role="status" id="providers-offline">
          Providers are set up on the platform: connect to see and change them.
        </p>
      )}
      {saved && (
        <p class="done" role="status" id="provider-saved">
          {saved}
        </p>
      )}
      <ErrorMessage error={error} />
      {editing && (
        <form class="card" onSubmit={save} aria-labelledby="provider-form-title">
          <h2 id="provider-form-title">{editing.id ? `Change ${editing.form.name}` : 'New provider'}</h2>
          <div class="form-grid">
            <Field label="Name" id="provider-name">
              <input id="provider-name" required maxLength={200} value={editing.form.name} onInput={set('name')} />
            </Field>
            <Field label="FHIR base URL" id="provider-url">
              <input id="provider-url" type="url" required maxLength={500} placeholder="https://fhir.example.org/r4" value={editing.form.fhir_base_url} onInput={set('fhir_base_url')} />
            </Field>
            <Field label="How the platform signs in" id="provider-mode">
              <select id="provider-mode" value={editing.form.mode} onChange={set('mode')}>
                {(Object.keys(MODES) as AuthMode[]).map((m) => (
                  <option key={m} value={m}>
                    {MODES[m]}
                  </option>
                ))}
              </select>
            </Field>
            {editing.form.mode === 'bearer' && (
              <Field label="Token" id="provider-token">
                <input id="provider-token" type="password" required maxLength={4096} autoComplete="off" value={editing.form.token} onInput={set('token')} />
              </Field>
            )}
            {editing.form.mode === 'smart-backend' && (
              <>
                <Field label="Client id the PHP registered" id="provider-client-id">
                  <input id="provider-client-id" required maxLength={200} value={editing.form.client_id} onInput={set('client_id')} />
                </Field>
                <Field label="Scope (optional)" id="provider-scope">
                  <input id="provider-scope" maxLength={1000} placeholder="the platform's default reads" value={editing.form.scope} onInput={set('scope')} />
                </Field>
                <Field label="Token URL (only if the PHP publishes none)" id="provider-token-url">
                  <input id="provider-token-url" type="url" maxLength={500} value={editing.form.token_url} onInput={set('token_url')} />
                </Field>
              </>
            )}
          </div>
          {editing.form.mode === 'smart-backend' && (
            <p class="muted">The platform makes a signing key (ES384) when first saved; its public half is shown below, to register at the PHP. Changing the other settings keeps it.</p>
          )}
          <div class="buttons">
            <button type="submit" class="primary" id="save-provider" disabled={!online}>
              Save
            </button>
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {providers && providers.length === 0 && <p id="providers-empty">No provider is set up yet.</p>}
      {providers?.map((p) => {
        const check = checks[p.id];
        return (
          <article class="card" key={p.id} data-provider-id={p.id} aria-labelledby={`provider-${p.id}`}>
            <h2 id={`provider-${p.id}`}>{p.name}</h2>
            <dl class="facts">
              <dt>FHIR base URL</dt>
              <dd>{p.fhir_base_url}</dd>
              <dt>Sign-in</dt>
              <dd>{MODES[p.auth_mode]}</dd>
              {p.client_id && (
                <>
                  <dt>Client id</dt>
                  <dd>{p.client_id}</dd>
                </>
              )}
              {p.key_id && (
                <>
                  <dt>Signing key</dt>
                  <dd>
                    {p.key_id} ({p.key_algorithm})
                  </dd>
                </>
              )}
            </dl>
            {p.public_jwks && (
              <details>
                <summary>Public key set to register at the PHP</summary>
                <p>
                  The PHP can read it at <code class="jwks-url">{`${status?.server?.replace(/\/$/, '') ?? ''}/api/v1/providers/${p.id}/jwks.json`}</code>, or take this copy:
                </p>
                <pre class="jwks">{JSON.stringify(p.public_jwks, null, 2)}</pre>
              </details>
            )}
            <div class="buttons">
              <button type="button" class="test-provider" disabled={!online || check === 'running'} onClick={() => test(p.id)}>
                {check === 'running' ? 'Testing…' : 'Test connection'}
              </button>
              <button type="button" disabled={!online} onClick={() => setEditing({ id: p.id, form: formOf(p) })}>
                Change
              </button>
              <ConfirmButton label="Remove" question={`Remove ${p.name}? Only a provider no patient is linked to can be removed.`} confirm="Remove" onConfirm={() => remove(p)} />
            </div>
            {Array.isArray(check) && check.length > 0 && (
              <ol class="connection-steps" aria-label="Connection test">
                {check.map((s) => (
                  <li key={s.step} class={s.ok ? 'done' : 'warning'} data-ok={s.ok}>
                    <strong>{s.step}:</strong> {s.detail}
                  </li>
                ))}
              </ol>
            )}
          </article>
        );
      })}
    </Page>
  );
}
