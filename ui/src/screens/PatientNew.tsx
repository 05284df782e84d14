// A new patient: typed by their dietician (works offline, sent at the next sync), or made of a
// new-patient inquiry (`inquiry`), prefilled from what the person wrote on the practice's
// website. The latter happens on the platform, at once, so that two dieticians pressing
// Convert make one patient: it needs a connection.
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type Inquiry } from '../api';
import { atField, ErrorMessage, Page, useStatus } from '../components';
import { formatDateTime } from '../lib/format';
import { leaveTo, useUnsaved } from '../lib/route';
import { changedFields, EMPTY_PATIENT, PATIENT_FIELDS, PatientForm, useProviders, type PatientFields } from './PatientForm';

/** The form as an inquiry fills it: what the person gave (their phone goes to contact details). */
export function fieldsOfInquiry(i: Inquiry): PatientFields {
  return { ...EMPTY_PATIENT, name: i.name, email: i.email, contact_details: i.phone ?? '' };
}

export function PatientNew({ inquiry }: { inquiry?: string }) {
  const status = useStatus();
  const online = !!status?.online;
  const [value, setValue] = useState(EMPTY_PATIENT);
  // What the form held before the person typed: empty, or the inquiry's values.
  const [start, setStart] = useState(EMPTY_PATIENT);
  // The inquiry made into a patient: undefined while read, null when not on this computer.
  const [source, setSource] = useState<Inquiry | null | undefined>(undefined);
  const providers = useProviders();
  const [error, setError] = useState<AppError | null>(null);
  const [duplicate, setDuplicate] = useState<{ id: string; name: string } | null>(null);

  useEffect(() => {
    if (!inquiry) return;
    call('inquiries', { status: null }).then((list) => {
      const found = list.find((i) => i.id === inquiry) ?? null;
      setSource(found);
      if (found) {
        const filled = fieldsOfInquiry(found);
        setStart(filled);
        setValue(filled);
      }
    }, setError);
  }, [inquiry]);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    setDuplicate(null);
    try {
      // Against the empty form, so that the inquiry's values are sent as the new patient's.
      const fields = changedFields(EMPTY_PATIENT, value);
      const outcome = inquiry ? await call('convert_inquiry', { id: inquiry, fields }) : await call('create_patient', { fields });
      if (outcome.outcome === 'duplicate') setDuplicate({ id: outcome.existing_id, name: outcome.name });
      else leaveTo(`/patients/${outcome.id}`);
    } catch (err) {
      setError(err as AppError);
    }
  }

  // Leaving asks only about what the person typed, not about the inquiry's own values.
  const dirty = Object.keys(changedFields(start, value)).length > 0;
  useUnsaved(dirty ? 'the new patient' : null);

  const title = inquiry ? 'New patient from an inquiry' : 'New patient';
  const breadcrumb: [string, string][] = inquiry ? [['#/inquiries', 'Inquiries']] : [['#/patients', 'Patients']];
  const back = inquiry ? '#/inquiries' : '#/patients';

  if (!status?.can?.create_patients || (inquiry && !status.can.read_inquiries)) {
    return (
      <Page title={title} breadcrumb={breadcrumb}>
        <p>{inquiry ? 'Inquiries are answered by dieticians.' : 'Patients are added by their dietician.'}</p>
      </Page>
    );
  }

  if (inquiry && !source) {
    return (
      <Page title={title} breadcrumb={breadcrumb}>
        <ErrorMessage error={error} />
        {source === null && <p id="inquiry-missing">This inquiry is not on this computer.</p>}
        {source === undefined && !error && <p class="muted" aria-busy="true">Reading the inquiry…</p>}
      </Page>
    );
  }

  if (source?.status === 'converted') {
    return (
      <Page title={title} breadcrumb={breadcrumb}>
        <p id="inquiry-converted">
          {source.name} is already a patient.{' '}
          {source.patient_id && (
            <a href={`#/patients/${source.patient_id}`} class="open-patient">
              Open patient
            </a>
          )}
        </p>
      </Page>
    );
  }

  return (
    <Page title={title} breadcrumb={breadcrumb}>
      {source && (
        <section class="card inquiry" aria-labelledby="inquiry-heading" id="inquiry-source">
          <h2 id="inquiry-heading">What {source.name} wrote</h2>
          <p class="muted">Received {formatDateTime(source.created_at)}. Their name, email and phone are filled in below; check them before creating the patient.</p>
          {source.message && <p class="message">{source.message}</p>}
        </section>
      )}
      <form onSubmit={submit}>
        <PatientForm value={value} onChange={setValue} error={error} providers={providers} />
        {duplicate && (
          <div class="warning" role="alert" id="duplicate-warning">
            One of your patients already has this email address:{' '}
            <a
              href={`#/patients/${duplicate.id}`}
              id="duplicate-link"
              onClick={(e) => {
                // Choosing the existing record is choosing to drop this form.
                e.preventDefault();
                leaveTo(`/patients/${duplicate.id}`);
              }}
            >
              open {duplicate.name}'s record
            </a>
            .
          </div>
        )}
        {!atField(error, PATIENT_FIELDS) && <ErrorMessage error={error} />}
        {inquiry && !online && (
          <p class="warning" role="status" id="convert-offline">
            Making a patient of an inquiry needs a connection, so that two dieticians never make two patients of the same person.
          </p>
        )}
        <div class="buttons">
          <button type="submit" class="primary" id="save-patient" disabled={!!inquiry && !online}>
            Create patient
          </button>
          <a class="button" href={back}>
            Cancel
          </a>
        </div>
        {!inquiry && <p class="muted">Works offline: the patient is sent to the platform at the next sync.</p>}
      </form>
    </Page>
  );
}
