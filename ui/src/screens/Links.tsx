// Admin: links of patients to their PHP, waiting for a decision. Nothing is pulled from a
// PHP under a link until an administrator approves it, having seen the record the PHP holds
// beside ours. Online only: the queue lives on the platform.
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type LinkApproval, type LinkReview, type PhpMatch } from '../api';
import { ErrorMessage, Page, StateChoices, useStatus } from '../components';
import { formatDate, formatDateTime } from '../lib/format';

const STATES: [LinkApproval, string][] = [
  ['pending', 'Waiting'],
  ['approved', 'Approved'],
  ['refused', 'Refused'],
];

/** How the lookup at the PHP went, in words; only a found record may be approved. */
const MATCH_WORDS: Record<PhpMatch, string> = {
  found: 'One record at the provider, whose family name and birth date agree with ours.',
  differs: "One record at the provider, but its family name or birth date disagree with ours: check with the dietician.",
  unsure: 'Several records at the provider, none certain: check the ID with the dietician.',
  'not found': 'No record at the provider under this ID: check it with the dietician.',
};

export function matchWords(r: LinkReview): { words: string; approvable: boolean } {
  if (!r.php_match) return { words: 'Not looked up at the provider yet; this page shows it once it has been.', approvable: false };
  return { words: MATCH_WORDS[r.php_match], approvable: r.php_match === 'found' };
}

export function Links() {
  const status = useStatus();
  const online = !!status?.online;
  const [state, setState] = useState<LinkApproval>('pending');
  const [reviews, setReviews] = useState<LinkReview[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const load = () => call('link_reviews', { state }).then(setReviews, setError);
  useEffect(() => {
    setReviews(null);
    if (online) load();
  }, [online, state]);

  async function decide(r: LinkReview, decision: LinkApproval) {
    setError(null);
    setDone(null);
    try {
      await call('decide_link', { patient_id: r.patient_id, decision, fingerprint: r.fingerprint });
      setDone(`${decision === 'approved' ? 'Approved' : 'Refused'}: the link of ${r.patient_name} to ${r.provider_name}.`);
      await load();
    } catch (err) {
      setError(err as AppError);
      await load();
    }
  }

  return (
    <Page title="Link approvals">
      <p class="muted">Documents are pulled from a provider only under a link an administrator approved, having compared the provider's record with ours.</p>
      {!online && (
        <p class="warning" role="status" id="links-offline">
          Link approvals are on the platform: connect to see and decide them.
        </p>
      )}
      <StateChoices name="links" label="Show links" choices={STATES} value={state} onChoose={setState} onRefresh={() => load()} online={online} />
      {done && (
        <p class="done" role="status" id="link-decided">
          {done}
        </p>
      )}
      <ErrorMessage error={error} />
      {reviews && reviews.length === 0 && <p id="links-empty">No links here.</p>}
      {reviews?.map((r) => {
        const match = matchWords(r);
        return (
          <article class="card" key={r.patient_id} data-patient-id={r.patient_id} aria-labelledby={`link-${r.patient_id}`}>
            <h2 id={`link-${r.patient_id}`}>
              {r.patient_name} at {r.provider_name}
            </h2>
            <table class="compare">
              <thead>
                <tr>
                  <th scope="col">
                    <span class="visually-hidden">Field</span>
                  </th>
                  <th scope="col">Ours</th>
                  <th scope="col">At the provider</th>
                </tr>
              </thead>
              <tbody>
                <tr>
                  <th scope="row">Name</th>
                  <td>{r.patient_name}</td>
                  <td class="php-name">{r.php_name ?? '—'}</td>
                </tr>
                <tr>
                  <th scope="row">Birth date</th>
                  <td>{r.birth_date ? formatDate(r.birth_date) : '—'}</td>
                  <td class="php-birth-date">{r.php_birth_date ? formatDate(r.php_birth_date) : '—'}</td>
                </tr>
                <tr>
                  <th scope="row">ID at the provider</th>
                  <td colSpan={2}>{r.provider_patient_identifier ?? '—'}</td>
                </tr>
              </tbody>
            </table>
            <p class={match.approvable ? 'muted' : 'warning'}>{match.words}</p>
            <p class="muted">
              Linked by {r.dietician_name}; changed {formatDateTime(r.updated_at)}.
            </p>
            {state !== 'approved' && (
              <div class="buttons">
                <button type="button" class="primary approve" disabled={!online || !match.approvable} onClick={() => decide(r, 'approved')}>
                  Approve
                </button>
                {state === 'pending' && (
                  <button type="button" class="refuse" disabled={!online} onClick={() => decide(r, 'refused')}>
                    Refuse
                  </button>
                )}
              </div>
            )}
          </article>
        );
      })}
    </Page>
  );
}
