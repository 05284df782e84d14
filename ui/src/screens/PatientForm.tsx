// The patient's fields, for creating and editing.
import type { Patient } from '../api';
import { Field } from '../components';

export type PatientFields = Pick<
  Patient,
  'name' | 'email' | 'birth_date' | 'contact_details' | 'medical_history' | 'dietary_preferences'
>;

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
  disabled?: boolean;
}) {
  const { value, onChange } = props;
  const set = (key: keyof PatientFields) => (e: Event) =>
    onChange({ ...value, [key]: (e.currentTarget as HTMLInputElement).value });
  const mark = (key: string) => (props.conflicted?.includes(key) ? ' conflicted' : '');
  return (
    <fieldset class="form-grid" disabled={props.disabled}>
      <legend class="visually-hidden">Patient details</legend>
      <Field label="Name" id="patient-name">
        <input id="patient-name" class={mark('name')} required maxLength={200} value={value.name} onInput={set('name')} />
      </Field>
      <Field label="Email" id="patient-email">
        <input id="patient-email" class={mark('email')} type="email" required value={value.email} onInput={set('email')} />
      </Field>
      <Field label="Birth date" id="patient-birth-date">
        <input id="patient-birth-date" type="date" value={value.birth_date ?? ''} onInput={set('birth_date')} />
      </Field>
      <Field label="Contact details" id="patient-contact">
        <textarea id="patient-contact" class={mark('contact_details')} rows={2} maxLength={2000} value={value.contact_details ?? ''} onInput={set('contact_details')} />
      </Field>
      <Field label="Medical history" id="patient-history">
        <textarea id="patient-history" class={mark('medical_history')} rows={4} maxLength={20000} value={value.medical_history ?? ''} onInput={set('medical_history')} />
      </Field>
      <Field label="Dietary preferences" id="patient-diet">
        <textarea id="patient-diet" class={mark('dietary_preferences')} rows={3} maxLength={5000} value={value.dietary_preferences ?? ''} onInput={set('dietary_preferences')} />
      </Field>
    </fieldset>
  );
}
