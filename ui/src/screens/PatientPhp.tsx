// A patient's Primary Healthcare Provider (PHP) on their page: the link's state in plain
// words, "Sync from the provider now" with its progress, and the summary of their documents.
import { useEffect, useState } from 'preact/hooks';
import { call, on, type AppError, type DocumentDigest, type Job, type LinkApproval, type LogEntry, type LogStatus, type Patient, type ProviderEntry } from '../api';
import { ErrorMessage, useStatus } from '../components';
import { formatDate, formatDateTime, typeLabel } from '../lib/format';

/** Where the link to the patient's provider stands, and what to do about it. */
export function linkWords(p: Patient, provider: string | null): { state: string; what: string; tone: 'muted' | 'warning' | 'done' } {
  const at = provider ?? 'their provider';
  if (!p.provider_id) {
    return { state: 'Not linked', what: "Choose the patient's provider and their ID there below to pull their documents.", tone: 'muted' };
  }
  if (p.link_approval === 'pending') {
    return { state: 'Pending approval', what: `The link to ${at} awaits an administrator's approval. Nothing is pulled until then.`, tone: 'muted' };
  }
  if (p.link_approval === 'refused') {
    return {
      state: 'Needs a person',
      what: `An administrator refused the link to ${at}, so nothing is pulled. Check the patient's ID there and their birth date; a corrected link is reviewed again.`,
      tone: 'warning',
    };
  }
  if (p.sync_error) return { state: 'Error', what: p.sync_error, tone: 'warning' };
  return { state: 'Matched', what: `Documents are pulled from ${at}.`, tone: 'done' };
}

/** A patient's link in a list: their provider and, in a word or two, where the link stands. */
const LINK_SHORT: Record<LinkApproval, string> = {
  pending: 'pending approval',
  approved: 'linked',
  refused: 'link refused',
};

export function linkShort(p: { provider_id?: string | null; link_approval?: LinkApproval | null }, providers: ProviderEntry[]): string {
  if (!p.provider_id) return '';
  const name = providers.find((x) => x.id === p.provider_id)?.name ?? 'Provider';
  return p.link_approval ? `${name}: ${LINK_SHORT[p.link_approval]}` : name;
}

export function LinkState({ patient, providers }: { patient: Patient; providers: ProviderEntry[] }) {
  const provider = providers.find((p) => p.id === patient.provider_id)?.name ?? null;
  const words = linkWords(patient, provider);
  return (
    <p class={words.tone} role="status" id="link-state" data-state={words.state}>
      <strong>{provider ? `${provider}: ` : 'Provider: '}{words.state}.</strong> {words.what}
    </p>
  );
}

/** A pull's counts as a line: what was found and what became of it. */
export function pullLine(job: Job): string {
  const c = job.progress;
  const counts = `found ${c.found}, stored ${c.stored}, updated ${c.updated}, unchanged ${c.unchanged}`;
  switch (job.status) {
    case 'queued':
      return 'Waiting for the platform to start the pull…';
    case 'running':
      return `Pulling: ${counts}…`;
    case 'done':
      return `Done: ${counts}.`;
    case 'parked':
      return `Stopped: ${job.last_error ?? 'an administrator can replay it'}.`;
  }
}

/** "Sync from the provider now": starts a pull on the platform and follows it to the end. */
export function SyncFromProvider({ patient, onFinished }: { patient: Patient; onFinished: () => void }) {
  const status = useStatus();
  const [job, setJob] = useState<Job | null>(null);
  // The app stopped following a pull that goes on on the platform.
  const [letGo, setLetGo] = useState(false);
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    const unlisten = on('pull-progress', (p) => {
      if (p.patient_id !== patient.id) return;
      setJob(p.job);
      const finished = p.job.status === 'done' || p.job.status === 'parked';
      setLetGo(!p.following && !finished);
      if (finished) onFinished();
    });
    return () => {
      unlisten.then((stop) => stop());
    };
  }, [patient.id]);

  const running = job !== null && !letGo && (job.status === 'queued' || job.status === 'running');
  const why = !status?.online
    ? 'Needs a connection: the pull runs on the platform.'
    : patient.link_approval !== 'approved'
      ? 'Available once the link to the provider is approved.'
      : null;

  async function start() {
    setError(null);
    setLetGo(false);
    try {
      setJob(await call('sync_patient', { patient_id: patient.id }));
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <div class="sync-php">
      <button type="button" id="sync-from-provider" onClick={start} disabled={why !== null || running} aria-describedby={why ? 'sync-from-provider-why' : undefined}>
        {running ? 'Pulling from the provider…' : 'Sync from the provider now'}
      </button>
      {why && (
        <span class="muted" id="sync-from-provider-why">
          {' '}
          {why}
        </span>
      )}
      {job && (
        <p role="status" aria-live="polite" id="pull-progress" data-status={job.status} class={job.status === 'parked' ? 'warning' : undefined}>
          {letGo ? 'The pull goes on on the platform; what it finds comes with a later sync.' : pullLine(job)}
        </p>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}

/** Where the last request for documents to the provider stands, in words. */
const REQUEST_STATE: Record<LogStatus, string> = {
  pending: 'waiting to be sent',
  'in progress': 'sent, waiting for the provider',
  success: 'completed by the provider',
  failure: 'not fulfilled',
};

export function requestWords(request: LogEntry): string {
  const when = formatDateTime(request.timestamp);
  return `Request for documents of ${when}: ${REQUEST_STATE[request.status]}.${request.details ? ` ${request.details}` : ''}`;
}

/** Counts of the patient's documents by type, what is new since the last visit, the last pull. */
export function DocumentSummary({ patientId, revision }: { patientId: string; revision: unknown }) {
  const [digest, setDigest] = useState<DocumentDigest | null>(null);
  useEffect(() => {
    call('document_digest', { patient_id: patientId }).then(setDigest, () => setDigest(null));
  }, [patientId, revision]);
  if (!digest) return null;
  const total = digest.kinds.reduce((n, k) => n + k.count, 0);
  return (
    <section class="panel" aria-labelledby="summary-heading" id="document-summary">
      <h2 id="summary-heading">Summary of documents</h2>
      <p id="summary-new">
        {total === 0
          ? 'No documents yet.'
          : digest.last_visit
            ? `${digest.new_since_last_visit} new since your last visit (${formatDateTime(digest.last_visit)}).`
            : `${total} ${total === 1 ? 'document' : 'documents'}; this is your first visit on this computer.`}
      </p>
      {total > 0 && (
        <table class="summary">
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Documents</th>
              <th scope="col">Newest</th>
            </tr>
          </thead>
          <tbody>
            {digest.kinds.map((k) => (
              <tr key={k.type}>
                <th scope="row">{typeLabel(k.type)}</th>
                <td>{k.count}</td>
                <td>{formatDate(k.newest)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {digest.last_request && (
        <p class={digest.last_request.status === 'failure' ? 'warning' : 'muted'} id="last-request" data-status={digest.last_request.status}>
          {requestWords(digest.last_request)}
        </p>
      )}
      <p class="muted" id="last-pull">
        {digest.last_pull
          ? `Last pull from the provider ${formatDateTime(digest.last_pull.timestamp)}: ${digest.last_pull.details ?? digest.last_pull.status}`
          : 'No pull from the provider yet.'}
      </p>
    </section>
  );
}
