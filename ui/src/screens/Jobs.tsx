// Admin: the platform's background work (pulls from PHPs, requests to them, Carepatron
// reconciles, the emails telling the practice of a new-patient inquiry): what runs, what
// waits, what stopped and why, and running a stopped one again. Online only: the jobs live on
// the platform. Patients appear by link, not by name: opening one is a read of their record,
// audited as such. An inquiry's email is about no patient yet, and shows none.
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type CarepatronState, type Job, type JobCause, type JobKind, type JobStatus } from '../api';
import { ErrorMessage, Page, StateChoices, useStatus } from '../components';
import { formatDateTime } from '../lib/format';

const STATES: [JobStatus, string][] = [
  ['parked', 'Stopped'],
  ['queued', 'Waiting'],
  ['running', 'Running'],
  ['done', 'Done'],
];

export const KIND_LABELS: Record<JobKind, string> = {
  pull: 'Pull from the provider',
  request: 'Request to the provider',
  carepatron: 'Carepatron',
  email: 'Email about a new inquiry',
};

/** Why a job was made, in words. */
export const CAUSE_LABELS: Record<JobCause, string> = {
  created: 'the patient was linked, or an inquiry arrived',
  approved: 'the link was approved',
  schedule: 'on schedule',
  manual: 'Sync now',
  request: 'a request for documents',
  replay: 'run again by an admin',
  change: 'a change here',
  remote: 'a change in Carepatron',
};

/** Where a job stands, in words. */
export function jobWords(j: Job): string {
  switch (j.status) {
    case 'queued':
      return `Waiting; runs ${formatDateTime(j.run_at)}${j.attempts > 0 ? ` (attempt ${j.attempts + 1})` : ''}.`;
    case 'running':
      return 'Running now.';
    case 'done':
      return `Done ${formatDateTime(j.updated_at)}.`;
    case 'parked':
      return `Stopped after ${j.attempts} ${j.attempts === 1 ? 'attempt' : 'attempts'}: ${j.last_error ?? 'no reason given'}`;
  }
}

export function Jobs() {
  const status = useStatus();
  const online = !!status?.online;
  const [state, setState] = useState<JobStatus>('parked');
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const [carepatron, setCarepatron] = useState<CarepatronState | null>(null);

  const load = () => {
    call('carepatron_state').then(setCarepatron, setError);
    return call('jobs', { state }).then(setJobs, setError);
  };
  useEffect(() => {
    setJobs(null);
    if (online) load();
  }, [online, state]);

  async function replay(which: Job[]) {
    setError(null);
    setDone(null);
    try {
      for (const j of which) await call('replay_job', { id: j.id });
      setDone(`${which.length} ${which.length === 1 ? 'job runs' : 'jobs run'} again.`);
    } catch (err) {
      setError(err as AppError);
    }
    await load();
  }

  // A job's stopped siblings: its patient's. A job of no patient (an inquiry's email) has none.
  const parkedOf = (j: Job) =>
    j.patient_id === null ? [j] : (jobs ?? []).filter((o) => o.patient_id === j.patient_id && o.status === 'parked');

  return (
    <Page title="Jobs">
      <p class="muted">Pulls from the providers, requests to them, Carepatron updates and the emails telling the practice of new-patient inquiries run on the platform, retried by themselves; a stopped one waits for a person.</p>
      {!online && (
        <p class="warning" role="status" id="jobs-offline">
          Jobs run on the platform: connect to see them.
        </p>
      )}
      <StateChoices name="jobs" label="Show jobs" choices={STATES} value={state} onChoose={setState} onRefresh={() => load()} online={online} />
      {carepatron && <CarepatronPanel state={carepatron} />}
      {done && (
        <p class="done" role="status" id="jobs-replayed">
          {done}
        </p>
      )}
      <ErrorMessage error={error} />
      {jobs && jobs.length === 0 && <p id="jobs-empty">No jobs here.</p>}
      {jobs && jobs.length > 0 && (
        <table id="jobs">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Patient</th>
              <th scope="col">Where it stands</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => {
              const siblings = parkedOf(j);
              return (
                <tr key={j.id} data-job-id={j.id} data-status={j.status}>
                  <td>
                    {KIND_LABELS[j.kind]} <span class="muted">({CAUSE_LABELS[j.cause]})</span>
                  </td>
                  <td>
                    {j.patient_id === null ? (
                      <span class="muted no-patient">An inquiry (no patient)</span>
                    ) : (
                      <a href={`#/patients/${j.patient_id}`}>Open patient</a>
                    )}
                  </td>
                  <td class={j.status === 'parked' ? 'status-failure' : undefined}>{jobWords(j)}</td>
                  <td>
                    {j.status === 'parked' && (
                      <div class="buttons">
                        <button type="button" class="replay" disabled={!online} onClick={() => replay([j])}>
                          Run again
                        </button>
                        {siblings.length > 1 && siblings[0].id === j.id && (
                          <button type="button" class="replay-patient" disabled={!online} onClick={() => replay(siblings)}>
                            Run all {siblings.length} of this patient again
                          </button>
                        )}
                      </div>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Page>
  );
}

/** The Carepatron side at a glance. */
export function CarepatronPanel({ state }: { state: CarepatronState }) {
  if (!state.configured) {
    return (
      <p class="muted" id="carepatron-state" data-configured="false">
        Carepatron: not set up on the platform, so nothing is sent there.
      </p>
    );
  }
  const when = (t: string | null) => (t ? formatDateTime(t) : 'not yet');
  return (
    <section class="panel" aria-labelledby="carepatron-heading" id="carepatron-state" data-configured="true">
      <h2 id="carepatron-heading">Carepatron</h2>
      <p>
        Changes here last read for Carepatron {when(state.last_feed)}; Carepatron last asked for its changes {when(state.last_poll)}.
      </p>
      <p>
        {state.waiting} {state.waiting === 1 ? 'update waits' : 'updates wait'}; {state.parked} stopped.
      </p>
      {state.last_error && <p class="warning">Last failure: {state.last_error}</p>}
    </section>
  );
}
