import { useEffect, useState } from 'preact/hooks';
import { call, on, type AppError, type UpdateInfo, type User } from '../api';
import { ErrorMessage, Page, useStatus } from '../components';
import { ago, plural } from '../lib/format';
import { navigate } from '../lib/route';
import { DiskUsePanel } from './OfflineFiles';
import { roleLabel } from './Users';

/** "2 changes have not reached the platform, 1 change was refused by it", or null when none. */
export function unsentWords(pending: number, rejected: number, conflicts = 0): string | null {
  const parts: string[] = [];
  if (pending > 0) parts.push(`${plural(pending, 'change has', 'changes have')} not reached the platform`);
  if (rejected > 0) parts.push(`${plural(rejected, 'change was', 'changes were')} refused by ${pending > 0 ? 'it' : 'the platform'}`);
  if (conflicts > 0) parts.push(`${plural(conflicts, 'conflict waits', 'conflicts wait')} for your decision`);
  return parts.length ? parts.join(', ') : null;
}

/** The server's name as people read it ("records.example.org"), not the whole address. */
function host(server: string | null | undefined): string {
  if (!server) return '';
  try {
    return new URL(server).host || server;
  } catch {
    return server;
  }
}

export function Profile() {
  const status = useStatus();
  const [me, setMe] = useState<User | null>(status?.user ?? null);
  const [error, setError] = useState<AppError | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (status?.online) call('profile').then(setMe, () => {});
  }, [status?.online]);

  const pending = status?.pending ?? 0;
  const rejected = status?.rejected ?? 0;
  const conflicts = status?.conflicts ?? 0;
  const unsent = unsentWords(pending, rejected, conflicts);

  async function signOut(discard: boolean) {
    setError(null);
    setBusy(true);
    try {
      await call('sign_out', { discard });
      navigate('/patients');
    } catch (err) {
      // `unsent_changes`: an edit arrived meanwhile; the person stays signed in and the
      // question above now names it (the status event brings the new counts).
      setError(err as AppError);
    } finally {
      setBusy(false);
    }
  }

  function stay() {
    setConfirming(false);
    setError(null);
  }

  return (
    <Page title="Profile">
      <dl class="meta">
        <dt>Name</dt>
        <dd>{me?.name}</dd>
        <dt>Email</dt>
        <dd>{me?.email}</dd>
        <dt>Role</dt>
        <dd id="profile-role">{roleLabel(me?.type)}</dd>
        <dt>Server</dt>
        <dd title={status?.server ?? undefined}>{host(status?.server)}</dd>
        <dt>Last sync</dt>
        <dd>{ago(status?.last_sync)}</dd>
        <dt>Session and key</dt>
        <dd id="session-kept-in">kept in the OS keyring</dd>
      </dl>
      {status?.user?.type !== 'admin' && <DiskUsePanel />}
      {!confirming && (
        <div class="buttons">
          <button type="button" class="danger" id="sign-out" onClick={() => setConfirming(true)}>
            Sign out
          </button>
        </div>
      )}
      {confirming && unsent && (
        <div class="warning" role="alertdialog" aria-labelledby="sign-out-warning" aria-describedby="sign-out-explained" id="sign-out-dialog">
          <p id="sign-out-warning" data-pending={pending} data-refused={rejected}>
            <strong>{unsent}.</strong>
          </p>
          <p id="sign-out-explained">
            {pending > 0 && (status?.online ? 'Sync now to send them before you sign out. ' : 'They can be sent once this computer is back online. ')}
            {rejected > 0 && 'Refused changes can be corrected on the Conflicts screen. '}
            {conflicts > 0 && 'Conflicts are decided on the Conflicts screen. '}
            Signing out removes your records, these changes, the session and the local copy's key from this computer.
          </p>
          <ErrorMessage error={error} />
          <div class="buttons">
            {pending > 0 && (
              <button
                type="button"
                class="primary"
                id="sync-first"
                disabled={!status?.online || status?.syncing}
                onClick={() => call('sync_now').catch((e) => setError(e as AppError))}
              >
                {status?.syncing ? 'Syncing…' : 'Sync now'}
              </button>
            )}
            {rejected + conflicts > 0 && (
              <a href="#/conflicts" class="button" id="see-refused">
                Open Conflicts
              </a>
            )}
            <button type="button" onClick={stay} id="stay-signed-in">
              Stay signed in
            </button>
            <button type="button" class="danger" id="discard-sign-out" disabled={busy} onClick={() => signOut(true)}>
              Sign out and discard them
            </button>
          </div>
        </div>
      )}
      {confirming && !unsent && (
        <div class="warning" role="alertdialog" aria-labelledby="sign-out-warning" id="sign-out-dialog">
          <p id="sign-out-warning">
            Nothing is waiting to be sent. Signing out removes your records, the session and the local copy's key from this computer; sign in
            again to bring your records back.
          </p>
          <ErrorMessage error={error} />
          <div class="buttons">
            <button type="button" class="danger" id="confirm-sign-out" disabled={busy} onClick={() => signOut(false)}>
              Sign out
            </button>
            <button type="button" onClick={stay} id="stay-signed-in">
              Stay signed in
            </button>
          </div>
        </div>
      )}
      {!confirming && <ErrorMessage error={error} />}
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
    const unlisten = on('update-progress', setReceived);
    return () => {
      unlisten.then((f) => f());
    };
  }, []);

  async function check() {
    setError(null);
    setInfo(null);
    setState('checking');
    try {
      setInfo(await call('check_update'));
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
