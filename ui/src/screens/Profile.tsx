import { useEffect, useState } from 'preact/hooks';
import { call, on, type AppError, type UpdateInfo, type User } from '../api';
import { ErrorMessage, Page, useStatus } from '../components';
import { ago, plural } from '../lib/format';
import { navigate } from '../lib/route';

export function Profile() {
  const status = useStatus();
  const [me, setMe] = useState<User | null>(status?.user ?? null);
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    if (status?.online) call<User>('profile').then(setMe, () => {});
  }, [status?.online]);

  const [confirming, setConfirming] = useState(false);

  async function signOut() {
    try {
      await call('sign_out');
      navigate('/patients');
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <Page title="Profile">
      <dl class="meta">
        <dt>Name</dt>
        <dd>{me?.name}</dd>
        <dt>Email</dt>
        <dd>{me?.email}</dd>
        <dt>Role</dt>
        <dd>{me?.type}</dd>
        <dt>Server</dt>
        <dd>{status?.server}</dd>
        <dt>Last sync</dt>
        <dd>{ago(status?.last_sync)}</dd>
        <dt>Session and key</dt>
        <dd id="session-kept-in">kept in the OS keyring</dd>
      </dl>
      <ErrorMessage error={error} />
      {confirming ? (
        <div class="warning" role="alertdialog" aria-labelledby="sign-out-warning">
          <p id="sign-out-warning">
            {status?.pending
              ? `${plural(status.pending, 'change has', 'changes have')} not reached the platform and will be lost. `
              : ''}
            Signing out removes your records, the session and the local copy's key from this computer.
          </p>
          <div class="buttons">
            <button type="button" class="danger" id="confirm-sign-out" onClick={signOut}>
              Sign out and remove
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Stay signed in
            </button>
          </div>
        </div>
      ) : (
        <button type="button" class="danger" id="sign-out" onClick={() => setConfirming(true)}>
          Sign out
        </button>
      )}
      <Updates />
    </Page>
  );
}

function Updates() {
  const [info, setInfo] = useState<UpdateInfo | null>(null);
  const [state, setState] = useState<'idle' | 'checking' | 'downloading' | 'verified'>('idle');
  const [received, setReceived] = useState<[number, number | null] | null>(null);
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    const unlisten = on<[number, number | null]>('update-progress', setReceived);
    return () => {
      unlisten.then((f) => f());
    };
  }, []);

  async function check() {
    setError(null);
    setInfo(null);
    setState('checking');
    try {
      setInfo(await call<UpdateInfo>('check_update'));
    } catch (err) {
      setError(err as AppError);
    }
    setState('idle');
  }

  async function download() {
    setError(null);
    setState('downloading');
    try {
      await call('download_update');
      setState('verified');
    } catch (err) {
      setError(err as AppError);
      setState('idle');
    }
  }

  return (
    <section class="panel" aria-labelledby="updates-title">
      <h2 id="updates-title">Updates</h2>
      <button type="button" id="check-updates" onClick={check} disabled={state === 'checking' || state === 'downloading'}>
        {state === 'checking' ? 'Checking…' : 'Check for updates'}
      </button>
      <div id="update-result" role="status" aria-live="polite">
        {info && !info.version && <p>You have the latest version ({info.current_version}).</p>}
        {info?.version && (
          <div>
            <p>
              Version {info.version} is available (you have {info.current_version}).
            </p>
            {info.notes && <p class="muted">{info.notes}</p>}
            {state === 'verified' ? (
              <p id="update-verified">
                Version {info.version} was downloaded and its signature verified.{' '}
                <button type="button" onClick={() => call('install_update').catch((e) => setError(e as AppError))}>
                  Install and restart
                </button>
              </p>
            ) : (
              <button type="button" id="download-update" onClick={download} disabled={state !== 'idle'}>
                {state === 'downloading' ? 'Downloading…' : 'Download and verify'}
              </button>
            )}
            {state === 'downloading' && received && (
              <progress value={received[0]} max={received[1] ?? undefined} aria-label="Download progress" />
            )}
          </div>
        )}
      </div>
      <ErrorMessage error={error} />
    </section>
  );
}
