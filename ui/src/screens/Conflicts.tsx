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
      {conflicts?.map((c) => <ConflictCard key={c.id} conflict={c} onDone={load} />)}
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
                  {Object.entries(r.fields).map(([k, v]) => (
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
