// The patient's fields, for creating and editing.
import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type Patient, type ProviderEntry } from '../api';
import { DateInput, Field } from '../components';

export type PatientFields = Pick<
  Patient,
  | 'name'
  | 'email'
  | 'birth_date'
  | 'contact_details'
  | 'medical_history'
  | 'dietary_preferences'
  | 'provider_id'
  | 'provider_patient_identifier'
>;

/** The fields the form shows (a refusal of another field is shown as a general message). */
export const PATIENT_FIELDS = [
  'name',
  'email',
  'birth_date',
  'contact_details',
  'medical_history',
  'dietary_preferences',
  'provider_id',
  'provider_patient_identifier',
] as const;

export const EMPTY_PATIENT: PatientFields = {
  name: '',
  email: '',
  birth_date: '',
  contact_details: '',
  medical_history: '',
  dietary_preferences: '',
  provider_id: '',
  provider_patient_identifier: '',
};

/** The identifier at the PHP as its system (optional) and value; stored as `system|value`. */
export function splitIdentifier(stored: string | null | undefined): { system: string; value: string } {
  const text = stored ?? '';
  const bar = text.indexOf('|');
  return bar < 0 ? { system: '', value: text } : { system: text.slice(0, bar), value: text.slice(bar + 1) };
}

export function joinIdentifier(system: string, value: string): string {
  return system.trim() ? `${system.trim()}|${value.trim()}` : value.trim();
}

/** The providers by name (kept on this computer for offline use). */
export function useProviders(): ProviderEntry[] {
  const [providers, setProviders] = useState<ProviderEntry[]>([]);
  useEffect(() => {
    call('providers').then(setProviders, () => setProviders([]));
  }, []);
  return providers;
}

/** Only the fields that changed, with empty text as null (cleared). */
export function changedFields(before: PatientFields, after: PatientFields): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const key of Object.keys(EMPTY_PATIENT) as (keyof PatientFields)[]) {
    const a = (before[key] ?? '') as string;
    const b = ((after[key] ?? '') as string).trim();
    if (a !== b) out[key] = b === '' && key !== 'name' && key !== 'email' ? null : b;
  }
  return out;
}

export function PatientForm(props: {
  value: PatientFields;
  onChange: (v: PatientFields) => void;
  conflicted?: string[];
  /** Fields changed elsewhere while being edited here (kept as typed; say so). */
  changedElsewhere?: string[];
  /** The field the last refusal blames, with its message. */
  error?: AppError | null;
  disabled?: boolean;
  /** The providers to link the patient to ([`useProviders`]). */
  providers: ProviderEntry[];
}) {
  const { value, onChange } = props;
  const set = (key: keyof PatientFields) => (e: Event) =>
    onChange({ ...value, [key]: (e.currentTarget as HTMLInputElement).value });
  const mark = (key: string) => (props.conflicted?.includes(key) ? ' conflicted' : '');
  const problem = (key: keyof PatientFields) => {
    if (props.error?.field === key) return props.error.message;
    if (props.changedElsewhere?.includes(key)) return 'Changed on the platform while you were typing here; saving keeps what you typed.';
    return null;
  };
  const invalid = (key: keyof PatientFields) => (props.error?.field === key ? true : undefined);
  const { providers } = props;
  const identifier = splitIdentifier(value.provider_patient_identifier);
  const setIdentifier = (part: 'system' | 'value') => (e: Event) => {
    const next = { ...identifier, [part]: (e.currentTarget as HTMLInputElement).value };
    onChange({ ...value, provider_patient_identifier: joinIdentifier(next.system, next.value) });
  };
  const linked = !!value.provider_id;
  return (
    <fieldset class="form-grid" disabled={props.disabled}>
      <legend class="visually-hidden">Patient details</legend>
      <Field label="Name" id="patient-name" error={problem('name')}>
        <input id="patient-name" class={mark('name')} required maxLength={200} aria-invalid={invalid('name')} value={value.name} onInput={set('name')} />
      </Field>
      <Field label="Email" id="patient-email" error={problem('email')}>
        <input id="patient-email" class={mark('email')} type="email" required aria-invalid={invalid('email')} value={value.email} onInput={set('email')} />
      </Field>
      <Field label="Birth date" id="patient-birth-date" error={problem('birth_date')}>
        <DateInput id="patient-birth-date" class={mark('birth_date')} value={value.birth_date} onChange={(iso) => onChange({ ...value, birth_date: iso })} />
      </Field>
      <Field label="Contact details" id="patient-contact" error={problem('contact_details')}>
        <textarea id="patient-contact" class={mark('contact_details')} rows={2} maxLength={2000} value={value.contact_details ?? ''} onInput={set('contact_details')} />
      </Field>
      <Field label="Medical history" id="patient-history" error={problem('medical_history')}>
        <textarea id="patient-history" class={mark('medical_history')} rows={4} maxLength={20000} value={value.medical_history ?? ''} onInput={set('medical_history')} />
      </Field>
      <Field label="Dietary preferences" id="patient-diet" error={problem('dietary_preferences')}>
        <textarea id="patient-diet" class={mark('dietary_preferences')} rows={3} maxLength={5000} value={value.dietary_preferences ?? ''} onInput={set('dietary_preferences')} />
      </Field>
      <Field label="Primary Healthcare Provider" id="patient-provider" error={problem('provider_id')}>
        <select id="patient-provider" class={mark('provider_id')} aria-invalid={invalid('provider_id')} value={value.provider_id ?? ''} onChange={set('provider_id')}>
          <option value="">None (documents are not pulled)</option>
          {providers.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
          {value.provider_id && !providers.some((p) => p.id === value.provider_id) && <option value={value.provider_id}>A provider not listed here</option>}
        </select>
      </Field>
      {linked && (
        <>
          <Field label="Identifier system at the provider (optional)" id="patient-identifier-system">
            <input id="patient-identifier-system" placeholder="e.g. urn:oid:2.16.840.1.113883.2.1" maxLength={200} value={identifier.system} onInput={setIdentifier('system')} />
          </Field>
          <Field label="Patient's ID at the provider (e.g. their MRN)" id="patient-identifier" error={problem('provider_patient_identifier')}>
            <input
              id="patient-identifier"
              class={mark('provider_patient_identifier')}
              required
              maxLength={200}
              aria-invalid={invalid('provider_patient_identifier')}
              value={identifier.value}
              onInput={setIdentifier('value')}
            />
          </Field>
          {!value.birth_date && (
            <p class="muted" id="link-needs-birth-date">
              The provider's record is matched by this ID, the name and the birth date: add the birth date.
            </p>
          )}
        </>
      )}
    </fieldset>
  );
}

/**
 * The form's value after the record changed underneath it (a sync, Sync now): fields being
 * edited keep what was typed, the rest take the new values. `elsewhere` lists the edited
 * fields whose stored value changed meanwhile, to say so.
 */
export function mergeRefreshed(
  before: PatientFields,
  typed: PatientFields,
  after: PatientFields,
): { value: PatientFields; elsewhere: (keyof PatientFields)[] } {
  const value = { ...after };
  const elsewhere: (keyof PatientFields)[] = [];
  for (const key of Object.keys(EMPTY_PATIENT) as (keyof PatientFields)[]) {
    const dirty = (typed[key] ?? '') !== (before[key] ?? '');
    if (!dirty) continue;
    value[key] = typed[key] as never;
    if ((after[key] ?? '') !== (before[key] ?? '')) elsewhere.push(key);
  }
  return { value, elsewhere };
}
