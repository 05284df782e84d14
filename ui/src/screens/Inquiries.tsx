// A dietician's new-patient inquiries: people who asked, through the practice's website, to
// become a patient, naming this dietician or none. They are kept on this computer and read
// offline; making a patient of one (Convert to patient, on its own form) and setting one aside
// happen on the platform, so that two dieticians never act on the same inquiry twice.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, type AppError, type Inquiry, type InquiryNotification, type InquiryStatus, type Status } from '../api';
import { ErrorMessage, Page, StateChoices, useStatus } from '../components';
import { formatDateTime } from '../lib/format';

const STATES: [InquiryStatus, string][] = [
  ['new', 'New'],
  ['converted', 'Made patients'],
  ['dismissed', 'Set aside'],
];

/** Whether the practice was told of an inquiry by email, in words. */
export const NOTIFICATION_WORDS: Record<InquiryNotification, string> = {
  not_configured: 'No email is sent for inquiries: the platform has no mail server set up.',
  pending: 'The practice is being emailed about it.',
  sent: 'The practice was emailed about it.',
  failed: 'The email to the practice failed; an administrator sees why under Jobs.',
};

/** Whom the inquiry asks for, in the reader's words. */
export function askedFor(i: Inquiry, status: Status | null): string {
  if (i.practitioner_id === null) return 'Open to any dietician';
  if (i.practitioner_id === status?.user?.id) return 'Asked for you';
  return 'Asked for another dietician';
}

export function Inquiries() {
  const status = useStatus();
  const online = !!status?.online;
  const [state, setState] = useState<InquiryStatus>('new');
  const [inquiries, setInquiries] = useState<Inquiry[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [done, setDone] = useState<string | null>(null);

  // Only the latest reading is shown (a slower one of another state never replaces it).
  const latest = useRef(0);
  const load = () => {
    const n = ++latest.current;
    return call('inquiries', { status: state }).then(
      (list) => n === latest.current && setInquiries(list),
      (err) => n === latest.current && setError(err as AppError),
    );
  };
  useEffect(() => setInquiries(null), [state]);
  // A sync brings new inquiries and the others' new states: read them again.
  useEffect(() => {
    load();
  }, [state, status?.last_sync, status?.new_inquiries]);

  async function refresh() {
    setError(null);
    setDone(null);
    try {
      await call('sync_now');
    } catch (err) {
      setError(err as AppError);
    }
    await load();
  }

  async function dismiss(i: Inquiry) {
    setError(null);
    setDone(null);
    try {
      await call('dismiss_inquiry', { id: i.id });
      setDone(`Set aside: ${i.name}.`);
    } catch (err) {
      setError(err as AppError);
    }
    await load();
  }

  return (
    <Page title="Inquiries">
      <p class="muted">
        People who asked to become patients through the practice's website: the ones naming you and the ones naming no dietician.
      </p>
      {!online && (
        <p class="warning" role="status" id="inquiries-offline">
          Making a patient of an inquiry and setting one aside happen on the platform: connect to do them. The inquiries themselves stay readable here.
        </p>
      )}
      <StateChoices name="inquiries" label="Show inquiries" choices={STATES} value={state} onChoose={setState} onRefresh={refresh} online={online} />
      {done && (
        <p class="done" role="status" id="inquiry-done">
          {done}
        </p>
      )}
      <ErrorMessage error={error} />
      {inquiries && inquiries.length === 0 && <p id="inquiries-empty">No inquiries here.</p>}
      {inquiries?.map((i) => (
        <article class="card inquiry" key={i.id} data-inquiry-id={i.id} data-status={i.status} aria-labelledby={`inquiry-${i.id}`}>
          <h2 id={`inquiry-${i.id}`}>{i.name}</h2>
          <dl class="meta">
            <dt>Email</dt>
            <dd>
              <a href={`mailto:${i.email}`}>{i.email}</a>
            </dd>
            {i.phone && (
              <>
                <dt>Phone</dt>
                <dd>{i.phone}</dd>
              </>
            )}
            <dt>Received</dt>
            <dd>{formatDateTime(i.created_at)}</dd>
            <dt>Reference</dt>
            <dd class="reference">{i.reference}</dd>
            <dt>Dietician</dt>
            <dd class="asked-for">{askedFor(i, status)}</dd>
          </dl>
          {i.message && <p class="message">{i.message}</p>}
          <p class={`muted notification notification-${i.notification}`}>{NOTIFICATION_WORDS[i.notification]}</p>
          <div class="buttons">
            {(i.status === 'new' || i.status === 'dismissed') && (
              <a class="button primary convert" href={`#/inquiries/${i.id}`}>
                Convert to patient
              </a>
            )}
            {i.status === 'new' && (
              <button type="button" class="dismiss" disabled={!online} onClick={() => dismiss(i)}>
                Set aside
              </button>
            )}
            {i.status === 'converted' && i.patient_id && (
              <a href={`#/patients/${i.patient_id}`} class="open-patient">
                Open patient
              </a>
            )}
          </div>
        </article>
      ))}
    </Page>
  );
}
