import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type Conflict, type RejectedEdit } from '../api';
import { ErrorMessage, Page, useStatus } from '../components';
import { FIELD_LABELS, showValue } from '../lib/format';

export function Conflicts() {
  const status = useStatus();
  const [conflicts, setConflicts] = useState<Conflict[] | null>(null);
  const [rejected, setRejected] = useState<RejectedEdit[]>([]);
  const [error, setError] = useState<AppError | null>(null);

  const load = () => {
    call<Conflict[]>('conflicts').then(setConflicts, setError);
    call<RejectedEdit[]>('rejected').then(setRejected, setError);
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
            <article class="card" key={r.mutation_id}>
              <p>
                <strong>{r.op}</strong> of a {r.table === 'patients' ? 'patient' : 'document'}:{' '}
                {r.reason}
              </p>
              <details>
                <summary>What was sent</summary>
                <dl class="meta">
                  {Object.entries(r.fields)
                    .filter(([k]) => k in FIELD_LABELS)
                    .map(([k, v]) => (
                    <Fragment key={k}>
                      <dt>{FIELD_LABELS[k] ?? k}</dt>
                      <dd>{showValue(v)}</dd>
                    </Fragment>
                  ))}
                </dl>
              </details>
              <button type="button" onClick={() => call('dismiss_rejected', { mutation_id: r.mutation_id }).then(load, setError)}>
                Dismiss
              </button>
            </article>
          ))}
        </>
      )}
    </Page>
  );
}

function ConflictCard({ conflict, onDone }: { conflict: Conflict; onDone: () => void }) {
  const [merging, setMerging] = useState(false);
  const [merged, setMerged] = useState(`${showValue(conflict.mine)}\n${showValue(conflict.theirs)}`);
  const [error, setError] = useState<AppError | null>(null);
  const field = FIELD_LABELS[conflict.field] ?? conflict.field;

  async function resolve(resolution: Record<string, unknown>) {
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
