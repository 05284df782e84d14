import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type Conflict, type RejectedEdit, type Resolution } from '../api';
import { ConfirmButton, ErrorMessage, Page, useStatus } from '../components';
import { FIELD_LABELS, formatDateTime, showValue } from '../lib/format';

export function Conflicts() {
  const status = useStatus();
  const [conflicts, setConflicts] = useState<Conflict[] | null>(null);
  const [rejected, setRejected] = useState<RejectedEdit[]>([]);
  const [error, setError] = useState<AppError | null>(null);

  const load = () => {
    call('conflicts').then(setConflicts, setError);
    call('rejected').then(setRejected, setError);
  };
  useEffect(load, [status?.conflicts, status?.rejected, status?.last_sync]);

  return (
    <Page title="Conflicts">
      <ErrorMessage error={error} />
      {conflicts && conflicts.length === 0 && rejected.length === 0 && (
        <p class="empty" id="no-conflicts">
          Nothing to decide: every change made here reached the platform.
        </p>
      )}
      {conflicts?.map((c) =>
        c.kind === 'fields' ? (
          <ConflictCard key={c.id} conflict={c} onDone={load} />
        ) : (
          <RecordConflictCard key={c.id} conflict={c} onDone={load} />
        ),
      )}
      {rejected.length > 0 && (
        <>
          <h2>Changes the platform refused</h2>
          {rejected.map((r) => (
            <RefusedCard key={r.mutation_id} refused={r} onDone={load} />
          ))}
        </>
      )}
    </Page>
  );
}

/** A refused edit in words: [heading, what happens on discard] (the name when one was sent). */
export function refusedWords(r: RejectedEdit): [string, string] {
  const patient = r.table === 'patients';
  const what = patient ? 'patient' : 'document';
  const named = r.fields[patient ? 'name' : 'title'];
  const name = typeof named === 'string' && named.trim() ? ` ${named.trim()}` : '';
  if (r.op === 'insert') {
    return [
      `New ${what}${name} was not accepted`,
      patient
        ? `Discard this new patient? It will be removed from this computer, with any documents added to it here.`
        : `Discard this new document? It will be removed from this computer.`,
    ];
  }
  if (r.op === 'delete') return [`Deleting a ${what}${name} was refused`, ''];
  return [`A change to a ${what}${name} was refused`, ''];
}

/** A change the platform refused: why and when; a refused creation is corrected or discarded. */
function RefusedCard({ refused: r, onDone }: { refused: RejectedEdit; onDone: () => void }) {
  const [error, setError] = useState<AppError | null>(null);
  const [heading, question] = refusedWords(r);
  const creation = r.op === 'insert';
  const href = r.table === 'patients' ? `#/patients/${r.row_id}` : `#/documents/${r.row_id}`;
  const reason = r.reason ? r.reason.charAt(0).toUpperCase() + r.reason.slice(1) : '';
  const dismiss = () => call('dismiss_rejected', { mutation_id: r.mutation_id }).then(onDone, (e) => setError(e as AppError));
  const sent = Object.entries(r.fields).filter(([k]) => k in FIELD_LABELS);
  return (
    <article class="card refused" data-mutation-id={r.mutation_id} data-op={r.op} aria-labelledby={`refused-${r.mutation_id}`}>
      <h3 id={`refused-${r.mutation_id}`}>{heading}</h3>
      {reason && <p class="reason">{/[.!?]$/.test(reason) ? reason : `${reason}.`}</p>}
      <p class="muted">
        Refused <time dateTime={r.created_at}>{formatDateTime(r.created_at)}</time>
      </p>
      {creation && (
        <p>
          The platform never received this {r.table === 'patients' ? 'patient' : 'document'}: it is only on this computer. Correct it and it is sent
          again at the next sync, or discard it.
        </p>
      )}
      {sent.length > 0 && (
        <details>
          <summary>What was sent</summary>
          <dl class="meta">
            {sent.map(([k, v]) => (
              <Fragment key={k}>
                <dt>{FIELD_LABELS[k] ?? k}</dt>
                <dd>{showValue(v)}</dd>
              </Fragment>
            ))}
          </dl>
        </details>
      )}
      <ErrorMessage error={error} />
      <div class="buttons">
        {creation ? (
          <>
            <a href={href} class="button primary correct-it">
              Correct it
            </a>
            <ConfirmButton label="Discard" question={question} confirm="Discard" onConfirm={dismiss} />
          </>
        ) : (
          <button type="button" class="dismiss" onClick={dismiss}>
            Dismiss
          </button>
        )}
      </div>
    </article>
  );
}

function ConflictCard({ conflict, onDone }: { conflict: Conflict; onDone: () => void }) {
  const [merging, setMerging] = useState(false);
  const [merged, setMerged] = useState(`${showValue(conflict.mine)}\n${showValue(conflict.theirs)}`);
  const [error, setError] = useState<AppError | null>(null);
  const field = FIELD_LABELS[conflict.field] ?? conflict.field;

  async function resolve(resolution: Resolution) {
    try {
      await call('resolve_conflict', { id: conflict.id, resolution });
      onDone();
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <article class="card conflict" data-conflict-id={conflict.id} aria-labelledby={`conflict-${conflict.id}`}>
      <h2 id={`conflict-${conflict.id}`}>
        {field} of{' '}
        <a href={conflict.table === 'patients' ? `#/patients/${conflict.row_id}` : `#/documents/${conflict.row_id}`}>{conflict.label}</a>
      </h2>
      <div class="sides">
        <div>
          <h3>Yours</h3>
          <p class="value mine">{showValue(conflict.mine)}</p>
        </div>
        <div>
          <h3>On the platform</h3>
          <p class="value theirs">{showValue(conflict.theirs)}</p>
        </div>
      </div>
      {merging && (
        <div class="field">
          <label for={`merge-${conflict.id}`}>Merged value</label>
          <textarea id={`merge-${conflict.id}`} rows={4} value={merged} onInput={(e) => setMerged(e.currentTarget.value)} />
        </div>
      )}
      <ErrorMessage error={error} />
      <div class="buttons">
        <button type="button" class="primary keep-mine" onClick={() => resolve({ keep: 'mine' })}>
          Keep mine
        </button>
        <button type="button" class="take-theirs" onClick={() => resolve({ keep: 'theirs' })}>
          Take theirs
        </button>
        {merging ? (
          <button type="button" onClick={() => resolve({ keep: 'value', value: merged })}>
            Save merged value
          </button>
        ) : (
          <button type="button" onClick={() => setMerging(true)}>
            Merge…
          </button>
        )}
      </div>
    </article>
  );
}

/** What a record conflict asks, in the person's words: [heading, explanation, keep mine, keep theirs]. */
export function recordConflictWords(conflict: Conflict): [string, string, string, string] {
  const what = conflict.table === 'patients' ? 'patient' : 'document';
  if (conflict.kind === 'edited_on_server') {
    return [
      `You deleted ${conflict.label}`,
      `Someone changed this ${what} on the platform after your copy was made, so it was not deleted. It is back here with their changes.`,
      'Delete it anyway',
      `Keep the ${what}`,
    ];
  }
  return [
    `${conflict.label} was deleted on the platform`,
    `You changed this ${what} here, but someone deleted it on the platform meanwhile. Your changes are kept below until you decide.`,
    'Restore it with my changes',
    'Let it go',
  ];
}

function RecordConflictCard({ conflict, onDone }: { conflict: Conflict; onDone: () => void }) {
  const [error, setError] = useState<AppError | null>(null);
  const [heading, explanation, mine, theirs] = recordConflictWords(conflict);
  const kept = (conflict.kind === 'deleted_on_server' ? conflict.mine : null) as Record<string, unknown> | null;

  async function resolve(keep: 'mine' | 'theirs') {
    try {
      await call('resolve_conflict', { id: conflict.id, resolution: { keep } });
      onDone();
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <article class="card conflict record-conflict" data-conflict-id={conflict.id} data-kind={conflict.kind} aria-labelledby={`conflict-${conflict.id}`}>
      <h2 id={`conflict-${conflict.id}`}>{heading}</h2>
      <p>{explanation}</p>
      {kept && (
        <dl class="meta">
          {Object.entries(kept)
            .filter(([k, v]) => k in FIELD_LABELS && v !== null && v !== '')
            .map(([k, v]) => (
              <Fragment key={k}>
                <dt>{FIELD_LABELS[k]}</dt>
                <dd>{showValue(v)}</dd>
              </Fragment>
            ))}
        </dl>
      )}
      <ErrorMessage error={error} />
      <div class="buttons">
        <button type="button" class="primary keep-mine" onClick={() => resolve('mine')}>
          {mine}
        </button>
        <button type="button" class="take-theirs" onClick={() => resolve('theirs')}>
          {theirs}
        </button>
      </div>
    </article>
  );
}
