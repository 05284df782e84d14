import { useEffect, useState } from 'preact/hooks';
import { call, DOCUMENT_TYPES, type AppError, type PatientDetail as Detail } from '../api';
import { Badge, ConfirmButton, ErrorMessage, Field, Page, useStatus } from '../components';
import { FIELD_LABELS } from '../lib/format';
import { navigate } from '../lib/route';
import { DocumentList } from './Documents';
import { NewDocument } from './NewDocument';
import { changedFields, PatientForm, type PatientFields } from './PatientForm';

function fieldsOf(d: Detail): PatientFields {
  const p = d.patient;
  return {
    name: p.name ?? '',
    email: p.email ?? '',
    birth_date: p.birth_date ?? '',
    contact_details: p.contact_details ?? '',
    medical_history: p.medical_history ?? '',
    dietary_preferences: p.dietary_preferences ?? '',
  };
}

export function PatientDetail({ id }: { id: string }) {
  const status = useStatus();
  const [detail, setDetail] = useState<Detail | null>(null);
  const [value, setValue] = useState<PatientFields | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [saved, setSaved] = useState(false);

  const load = () =>
    call<Detail>('patient', { id }).then(
      (d) => {
        setDetail(d);
        setValue(fieldsOf(d));
      },
      setError,
    );
  useEffect(() => {
    load();
  }, [id, status?.last_sync, status?.pending, status?.conflicts]);

  if (!detail || !value) return <Page title="Patient"><ErrorMessage error={error} /></Page>;
  const changes = changedFields(fieldsOf(detail), value);
  const dirty = Object.keys(changes).length > 0;

  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await call('update_patient', { id, fields: changes });
      setSaved(true);
      await load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  async function remove() {
    try {
      await call('delete_patient', { id });
      navigate('/patients');
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <Page
      title={detail.patient.name}
      actions={
        <>
          <Badge state={detail.sync_state} />
          <ConfirmButton label="Delete patient" question="Delete this patient and their documents?" confirm="Delete" onConfirm={remove} />
        </>
      }
    >
      {detail.patient.sync_error && (
        <p class="warning" role="status">
          {detail.patient.sync_error}
        </p>
      )}
      {detail.deletion_in_question && (
        <p class="warning" role="status" id="deletion-banner">
          You deleted this patient, but it was changed on the platform since, so it is back.{' '}
          <a href="#/conflicts">Decide whether to delete it</a>.
        </p>
      )}
      {detail.conflicted_fields.length > 0 && (
        <p class="warning" role="status" id="conflict-banner">
          {detail.conflicted_fields.map((f) => FIELD_LABELS[f] ?? f).join(', ')}{' '}
          changed here and on the platform. <a href="#/conflicts">Choose which to keep</a>.
        </p>
      )}
      <form onSubmit={save} onInput={() => setSaved(false)}>
        <PatientForm value={value} onChange={setValue} conflicted={detail.conflicted_fields} />
        <ErrorMessage error={error} />
        <div class="buttons">
          <button type="submit" class="primary" id="save-patient" disabled={!dirty}>
            Save changes
          </button>
          {saved && !dirty && (
            <span role="status" class="muted">
              Saved{status?.online ? '' : ' here; sent when back online'}.
            </span>
          )}
        </div>
      </form>
      <h2>Documents</h2>
      <NewDocument patientId={id} />
      <RequestDocuments patientId={id} />
      <DocumentList patientId={id} />
    </Page>
  );
}

function RequestDocuments({ patientId }: { patientId: string }) {
  const status = useStatus();
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState('');
  const [types, setTypes] = useState<string[]>([]);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<AppError | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await call('request_documents', { patient_id: patientId, note, types });
      setResult("Request sent to the patient's provider. Documents arrive with a later sync.");
      setOpen(false);
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <details class="panel" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Request documents from the provider</summary>
      <form onSubmit={submit}>
        <Field label="Note for the provider's staff" id="request-note">
          <textarea id="request-note" rows={2} maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
        <fieldset class="checks">
          <legend>Only these types (all if none)</legend>
          {DOCUMENT_TYPES.map((t) => (
            <label key={t}>
              <input
                type="checkbox"
                checked={types.includes(t)}
                onChange={(e) => setTypes(e.currentTarget.checked ? [...types, t] : types.filter((x) => x !== t))}
              />{' '}
              {t}
            </label>
          ))}
        </fieldset>
        <ErrorMessage error={error} />
        <button type="submit" disabled={!status?.online}>
          Send request
        </button>
        {!status?.online && <span class="muted"> Needs a connection.</span>}
      </form>
      {result && <p role="status">{result}</p>}
    </details>
  );
}
