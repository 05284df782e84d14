import { useEffect, useRef, useState } from 'preact/hooks';
import { call, DOCUMENT_TYPES, type AppError, type PatientDetail as Detail } from '../api';
import { atField, Badge, ConfirmButton, ErrorMessage, Field, Page, RefusedCreation, useStatus } from '../components';
import { birthWithAge, FIELD_LABELS, typeLabel } from '../lib/format';
import { leaveTo, useUnsaved } from '../lib/route';
import { DocumentList } from './Documents';
import { KeepOffline } from './OfflineFiles';
import { DocumentSummary, LinkState, SyncFromProvider } from './PatientPhp';
import { NewDocument } from './NewDocument';
import { Trends } from './PatientTrends';
import { changedFields, mergeRefreshed, PATIENT_FIELDS, PatientForm, useProviders, type PatientFields } from './PatientForm';

function fieldsOf(d: Detail): PatientFields {
  const p = d.patient;
  return {
    name: p.name ?? '',
    email: p.email ?? '',
    birth_date: p.birth_date ?? '',
    contact_details: p.contact_details ?? '',
    medical_history: p.medical_history ?? '',
    dietary_preferences: p.dietary_preferences ?? '',
    provider_id: p.provider_id ?? '',
    provider_patient_identifier: p.provider_patient_identifier ?? '',
  };
}

export function PatientDetail({ id }: { id: string }) {
  const status = useStatus();
  const [detail, setDetail] = useState<Detail | null>(null);
  // The stored fields the form started from, and what is in the form now.
  const [base, setBase] = useState<PatientFields | null>(null);
  const [value, setValue] = useState<PatientFields | null>(null);
  const [elsewhere, setElsewhere] = useState<string[]>([]);
  const [error, setError] = useState<AppError | null>(null);
  const [saved, setSaved] = useState(false);
  const [pulled, setPulled] = useState(0);
  const providers = useProviders();
  const typed = useRef<{ base: PatientFields | null; value: PatientFields | null }>({ base: null, value: null });
  typed.current = { base, value };

  /** Reads the patient again; `fresh`: drop what is in the form (after saving, a new patient). */
  const load = (fresh = false) =>
    call('patient', { id }).then(
      (d) => {
        const stored = fieldsOf(d);
        const now = typed.current;
        setDetail(d);
        if (fresh || !now.base || !now.value) {
          setValue(stored);
          setElsewhere([]);
        } else {
          // A sync never overwrites what is being typed.
          const merged = mergeRefreshed(now.base, now.value, stored);
          setValue(merged.value);
          setElsewhere((was) => [...new Set([...was, ...merged.elsewhere])]);
        }
        setBase(stored);
      },
      setError,
    );
  useEffect(() => {
    load(true);
  }, [id]);
  useEffect(() => {
    if (detail) load();
  }, [status?.last_sync, status?.pending, status?.conflicts, status?.rejected]);

  const changes = base && value ? changedFields(base, value) : {};
  const dirty = Object.keys(changes).length > 0;
  useUnsaved(dirty && detail ? `your changes to ${detail.patient.name}` : null);

  if (!detail || !value) return <Page title="Patient"><ErrorMessage error={error} /></Page>;
  const can = detail.can;

  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await call('update_patient', { id, fields: changes });
      setSaved(true);
      setElsewhere([]);
      await load(true);
    } catch (err) {
      setError(err as AppError);
    }
  }

  async function remove() {
    try {
      await call('delete_patient', { id });
      leaveTo('/patients');
    } catch (err) {
      setError(err as AppError);
    }
  }


  const p = detail.patient;
  // An administrator reads patients online: no link state or summary kept here for them.
  const readsOnline = status?.user?.type === 'admin';
  const refusedCreation = detail.refusals.find((r) => r.op === 'insert');
  return (
    <Page
      title={p.name}
      breadcrumb={[['#/patients', 'Patients']]}
      subtitle={p.birth_date ? `Born ${birthWithAge(p.birth_date)}` : undefined}
      actions={
        <>
          <Badge state={detail.sync_state} />
          {can.delete && !refusedCreation && (
            <ConfirmButton label="Delete patient" question="Delete this patient and their documents?" confirm="Delete" onConfirm={remove} id="delete-patient" />
          )}
        </>
      }
    >
      {refusedCreation && (
        <RefusedCreation
          refusal={refusedCreation}
          what="patient"
          question="Remove this patient, and notes written for them here, from this computer?"
          after="/patients"
        >
          <p>Correct the details below and save to send them again, or discard this patient from this computer.</p>
        </RefusedCreation>
      )}
      {detail.refusals
        .filter((r) => r.op !== 'insert')
        .map((r) => (
          <p class="warning" role="status" key={r.mutation_id} data-refusal={r.code}>
            The platform did not accept a change you made here: {r.reason}. The record shows what the platform holds.{' '}
            <a href="#/conflicts">See refused changes</a>.
          </p>
        ))}
      {!readsOnline && <LinkState patient={p} providers={providers} />}
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
        <PatientForm
          value={value}
          onChange={setValue}
          conflicted={detail.conflicted_fields}
          changedElsewhere={elsewhere}
          error={error}
          disabled={!can.edit}
          providers={providers}
        />
        {!atField(error, PATIENT_FIELDS) && <ErrorMessage error={error} />}
        {can.edit && (
          <div class="buttons">
            <button type="submit" class="primary" id="save-patient" disabled={!dirty}>
              {refusedCreation ? 'Save and send again' : 'Save changes'}
            </button>
            {dirty && (
              <button type="button" id="undo-patient" onClick={() => { setValue(base); setElsewhere([]); setError(null); }}>
                Undo changes
              </button>
            )}
            {saved && !dirty && (
              <span role="status" class="muted" id="patient-saved">
                Saved{status?.online ? '' : ' here; sent when back online'}.
              </span>
            )}
          </div>
        )}
      </form>
      {(readsOnline || (status?.user?.type === 'dietician' && can.edit)) && (
        <p>
          <a href={`#/audit/${id}`} id="patient-audit">
            Who read this patient's data
          </a>
        </p>
      )}
      {can.request_documents && p.provider_id && <SyncFromProvider patient={p} onFinished={() => setPulled((n) => n + 1)} />}
      {!readsOnline && <DocumentSummary patientId={id} revision={`${pulled}:${status?.last_sync}`} />}
      {/* Also for an administrator: the command reads the platform for them. */}
      <Trends patientId={id} />
      <h2>Documents</h2>
      {!readsOnline && <KeepOffline patientId={id} />}
      {can.add_documents && <NewDocument patientId={id} />}
      {can.request_documents && p.link_approval === 'approved' && <RequestDocuments patientId={id} />}
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
    setResult(null);
    try {
      await call('request_documents', { patient_id: patientId, note, types });
      setResult("Request sent to the patient's provider. Documents arrive with a later sync.");
      setOpen(false);
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <>
    {result && (
      <p role="status" class="done" id="request-result">
        {result}
      </p>
    )}
    <details class="panel" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary id="request-documents">Request documents from the patient's provider</summary>
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
              {typeLabel(t)}
            </label>
          ))}
        </fieldset>
        <ErrorMessage error={error} />
        <button type="submit" disabled={!status?.online}>
          Send request
        </button>
        {!status?.online && <span class="muted"> Needs a connection.</span>}
      </form>
    </details>
    </>
  );
}
