import { useState } from 'preact/hooks';
import { call, type AppError, type Status } from '../api';
import { ErrorMessage, Field } from '../components';

export function SignIn({ status, onSignedIn }: { status: Status; onSignedIn: (s: Status) => void }) {
  const [server, setServer] = useState(status.server || status.default_server || '');
  // The server is set up by the practice: out of the way unless there is none to offer.
  const [advanced, setAdvanced] = useState(!server.trim());
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<AppError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await call('sign_in', { server: server.trim(), email: email.trim(), password }));
    } catch (err) {
      const appError = err as AppError;
      // Anything but a wrong password may be the server's address: show it.
      if (appError.code !== 'unauthorized') setAdvanced(true);
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
        <details id="advanced" open={advanced} onToggle={(e) => setAdvanced((e.currentTarget as HTMLDetailsElement).open)}>
          <summary>Advanced</summary>
          <Field label="Server address" id="server" hint="Set up by your practice; change it only if they ask you to.">
            <input
              id="server"
              type="url"
              required
              value={server}
              aria-describedby="server-hint"
              onInput={(e) => setServer(e.currentTarget.value)}
              onInvalid={() => setAdvanced(true)}
            />
          </Field>
        </details>
        <ErrorMessage error={error} />
        <button type="submit" class="primary" id="sign-in" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
