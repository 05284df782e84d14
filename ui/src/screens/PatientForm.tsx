// The patient's fields, for creating and editing.
import type { AppError, Patient } from '../api';
import { DateInput, Field } from '../components';

export type PatientFields = Pick<
  Patient,
  'name' | 'email' | 'birth_date' | 'contact_details' | 'medical_history' | 'dietary_preferences'
>;

/** The fields the form shows (a refusal of another field is shown as a general message). */
export const PATIENT_FIELDS = ['name', 'email', 'birth_date', 'contact_details', 'medical_history', 'dietary_preferences'] as const;

export const EMPTY_PATIENT: PatientFields = {
  name: '',
  email: '',
  birth_date: '',
  contact_details: '',
  medical_history: '',
  dietary_preferences: '',
};

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
