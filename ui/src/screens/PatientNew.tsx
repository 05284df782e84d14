import { useState } from 'preact/hooks';
import { call, type AppError } from '../api';
import { atField, ErrorMessage, Page, useStatus } from '../components';
import { leaveTo, useUnsaved } from '../lib/route';
import { changedFields, EMPTY_PATIENT, PATIENT_FIELDS, PatientForm, useProviders } from './PatientForm';

export function PatientNew() {
  const status = useStatus();
  const [value, setValue] = useState(EMPTY_PATIENT);
  const providers = useProviders();
  const [error, setError] = useState<AppError | null>(null);
  const [duplicate, setDuplicate] = useState<{ id: string; name: string } | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    setDuplicate(null);
    try {
      const outcome = await call('create_patient', { fields: changedFields(EMPTY_PATIENT, value) });
      if (outcome.outcome === 'duplicate') setDuplicate({ id: outcome.existing_id, name: outcome.name });
      else leaveTo(`/patients/${outcome.id}`);
    } catch (err) {
      setError(err as AppError);
    }
  }

  const dirty = Object.keys(changedFields(EMPTY_PATIENT, value)).length > 0;
  useUnsaved(dirty ? 'the new patient' : null);

  if (!status?.can?.create_patients) {
    return (
      <Page title="New patient" breadcrumb={[['#/patients', 'Patients']]}>
        <p>Patients are added by their dietician.</p>
      </Page>
    );
  }

  return (
    <Page title="New patient" breadcrumb={[['#/patients', 'Patients']]}>
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
        <div class="buttons">
          <button type="submit" class="primary" id="save-patient">
            Create patient
          </button>
          <a class="button" href="#/patients">
            Cancel
          </a>
        </div>
        <p class="muted">Works offline: the patient is sent to the platform at the next sync.</p>
      </form>
    </Page>
  );
}
