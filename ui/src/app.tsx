// The shell: sign-in until there is a session, then navigation, the always-visible status
// bar (online/offline, pending changes, conflicts, sync with progress) and the screens.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { call, on, type AppError, type Progress, type Status } from './api';
import { StatusContext } from './components';
import { ago, fileSize, plural } from './lib/format';
import { useLeaving, useRoute } from './lib/route';
import { Conflicts } from './screens/Conflicts';
import { DocumentView } from './screens/DocumentView';
import { Documents } from './screens/Documents';
import { Inquiries } from './screens/Inquiries';
import { PatientDetail } from './screens/PatientDetail';
import { PatientList } from './screens/PatientList';
import { PatientNew } from './screens/PatientNew';
import { Profile } from './screens/Profile';
import { SignIn } from './screens/SignIn';
import { SyncLog } from './screens/SyncLog';
import { Audit } from './screens/Audit';
import { Jobs } from './screens/Jobs';
import { Links } from './screens/Links';
import { Providers } from './screens/Providers';
import { Users } from './screens/Users';

export function App() {
  const [status, setStatus] = useState<Status | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [startupError, setStartupError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const failure = await call('startup_error');
      if (failure) return setStartupError(failure.message);
      setStatus(await call('status'));
    } catch (e) {
      setStartupError((e as AppError).message);
    }
  }, []);

  useEffect(() => {
    refresh();
    const unlisten = [on('status', setStatus), on('sync-progress', setProgress)];
    return () => unlisten.forEach((u) => u.then((f) => f()));
  }, [refresh]);

  if (startupError) {
    return (
      <main class="centered">
        <div class="card" role="alert" id="startup-error">
          <h1>Healthcare Records cannot start</h1>
          <p>{startupError}</p>
        </div>
      </main>
    );
  }
  if (!status) return <main class="centered" aria-busy="true" />;
  if (!status.signed_in) return <SignIn status={status} onSignedIn={setStatus} />;
  return (
    <StatusContext.Provider value={status}>
      <Shell status={status} progress={progress} />
    </StatusContext.Provider>
  );
}

/** The screens this user has a use for (`can` comes from the platform's rules). */
export function navFor(status: Status): [string, string][] {
  // An administrator's computer keeps no patient data: their patients are read from the
  // platform one at a time, so there is no document list or sync log of their own.
  const admin = status.user?.type === 'admin';
  const nav: [string, string][] = admin
    ? [
        ['patients', 'Patients'],
        ['providers', 'Providers'],
        ['links', 'Link approvals'],
        ['jobs', 'Jobs'],
        ['audit', 'Audit trail'],
        ['conflicts', 'Conflicts'],
      ]
    : [
        ['patients', 'Patients'],
        ['documents', 'Documents'],
        ['log', 'Sync log'],
        ['conflicts', 'Conflicts'],
      ];
  // New-patient inquiries from the practice's website: a dietician's to answer, never an
  // administrator's (the rules give them no `read_inquiries`).
  if (!admin && status.can?.read_inquiries) nav.splice(1, 0, ['inquiries', 'Inquiries']);
  if (status.can?.manage_users || (status.can?.create_user_types.length ?? 0) > 0) nav.push(['users', 'Users']);
  nav.push(['profile', 'Profile']);
  return nav;
}

function Shell({ status, progress }: { status: Status; progress: Progress | null }) {
  const route = useRoute();
  const nav = navFor(status);
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">Healthcare Records</span>
        <nav aria-label="Main">
          <ul>
            {nav.map(([screen, label]) => (
              <li key={screen}>
                <a href={`#/${screen}`} aria-current={route.screen === screen ? 'page' : undefined}>
                  {label}
                  {screen === 'inquiries' && status.new_inquiries > 0 && (
                    <span class="count" aria-label={`${status.new_inquiries} new`}>
                      {status.new_inquiries}
                    </span>
                  )}
                  {screen === 'conflicts' && status.conflicts + status.rejected > 0 && (
                    <span class="count" aria-label={`${status.conflicts + status.rejected} open`}>
                      {status.conflicts + status.rejected}
                    </span>
                  )}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <SyncBar status={status} progress={progress} />
      </header>
      {status.notice && (
        <div class="notice" role="status">
          <p>{status.notice}</p>
          <button type="button" onClick={() => call('dismiss_notice')}>
            Dismiss
          </button>
        </div>
      )}
      <LeaveQuestion />
      <main id="main">
        <Screen screen={route.screen} id={route.id} />
      </main>
    </div>
  );
}

function Screen({ screen, id }: { screen: string; id?: string }) {
  switch (screen) {
    case 'patients':
      if (id === 'new') return <PatientNew />;
      return id ? <PatientDetail id={id} /> : <PatientList />;
    case 'inquiries':
      return id ? <PatientNew key={id} inquiry={id} /> : <Inquiries />;
    case 'documents':
      return id ? <DocumentView id={id} /> : <Documents />;
    case 'log':
      return <SyncLog />;
    case 'conflicts':
      return <Conflicts />;
    case 'profile':
      return <Profile />;
    case 'users':
      return <Users />;
    case 'links':
      return <Links />;
    case 'jobs':
      return <Jobs />;
    case 'audit':
      // One screen per route: a patient's reads and the whole trail keep no filter of the other.
      return <Audit key={id ?? 'all'} patientId={id} />;
    case 'providers':
      return <Providers />;
    default:
      return <PatientList />;
  }
}

/** "Leave without saving?", asked where the person looks: above the screen. */
function LeaveQuestion() {
  const q = useLeaving();
  if (!q) return null;
  return (
    <div class="warning leave" role="alertdialog" aria-labelledby="leave-question" id="leave-dialog">
      <p id="leave-question">You have not saved {q.what}. Leave this page and lose them?</p>
      <div class="buttons">
        <button type="button" class="primary" id="stay" onClick={q.stay} autoFocus>
          Stay and keep editing
        </button>
        <button type="button" class="danger" id="leave" onClick={q.leave}>
          Leave without saving
        </button>
      </div>
    </div>
  );
}

/** Online/offline, changes waiting, the sync button and its progress: always in view. */
export function SyncBar({ status, progress }: { status: Status; progress: Progress | null }) {
  const keeping = progress?.phase === 'keeping' && progress.done < progress.total;
  const running = status.syncing || keeping || ['started', 'pushed', 'sending', 'pulled'].includes(progress?.phase ?? '');
  let value: number | undefined;
  let label = `Last sync ${ago(status.last_sync)}`;
  if (running && progress?.phase === 'pushed') {
    value = progress.total ? progress.done / progress.total : undefined;
    label = `Sending changes: ${progress.done} of ${progress.total}`;
  } else if (running && progress?.phase === 'sending') {
    value = progress.total ? progress.sent / progress.total : undefined;
    label = `Sending files: ${fileSize(progress.sent)} of ${fileSize(progress.total)}`;
  } else if (keeping && progress?.phase === 'keeping') {
    value = progress.done / progress.total;
    label = `Keeping files for offline reading: ${progress.done} of ${progress.total}`;
  } else if (running && progress?.phase === 'pulled') {
    label = `Receiving: ${plural(progress.rows, 'change', 'changes')}`;
  } else if (running) {
    label = 'Syncing…';
  } else if (progress?.phase === 'failed') {
    label = progress.code === 'offline' ? 'Changes are kept here and sent when the server can be reached.' : progress.message;
  }
  return (
    <div class="syncbar">
      <span
        class={`connection ${status.online ? 'online' : 'offline'}`}
        id="connection"
        role="status"
        aria-live="polite"
      >
        {status.online ? 'Online' : 'Offline'}
      </span>
      <span class="pending" id="pending" role="status" aria-live="polite" data-pending={status.pending} data-refused={status.rejected}>
        {status.pending === 0 && status.rejected === 0 && 'All changes sent'}
        {status.pending > 0 && `${plural(status.pending, 'change', 'changes')} to send`}
        {status.pending > 0 && status.rejected > 0 && ', '}
        {status.rejected > 0 && (
          <a href="#/conflicts" class="refused-count">
            {plural(status.rejected, 'change', 'changes')} refused
          </a>
        )}
      </span>
      <button type="button" id="sync-now" onClick={() => call('sync_now')} disabled={running}>
        {running ? 'Syncing…' : 'Sync now'}
      </button>
      <span class="sync-label" id="sync-label" aria-live="polite">
        {label}
      </span>
      {running && (
        <progress id="sync-progress" value={value} max={value === undefined ? undefined : 1} aria-label="Sync progress" />
      )}
    </div>
  );
}
