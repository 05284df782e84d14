import { useState } from 'preact/hooks';
import { call, type AppError, type Status } from '../api';
import { ErrorMessage, Field } from '../components';

export function SignIn({ status, onSignedIn }: { status: Status; onSignedIn: (s: Status) => void }) {
  const [server, setServer] = useState(status.server ?? status.default_server);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<AppError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await call<Status>('sign_in', { server: server.trim(), email: email.trim(), password }));
    } catch (err) {
      const appError = err as AppError;
      setError(
        appError.code === 'unauthorized'
          ? { ...appError, message: 'Wrong email or password.' }
          : appError,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="centered">
      <form class="card signin" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Healthcare Records</h1>
        <p>Sign in to your practice's platform. You stay signed in on this computer.</p>
        <Field label="Server" id="server">
          <input id="server" type="url" required value={server} onInput={(e) => setServer(e.currentTarget.value)} />
        </Field>
        <Field label="Email" id="email">
          <input id="email" type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label="Password" id="password">
          <input
            id="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <ErrorMessage error={error} />
        <button type="submit" class="primary" id="sign-in" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
