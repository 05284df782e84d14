import { changedFields, EMPTY_PATIENT, mergeRefreshed } from './PatientForm';

describe('changedFields', () => {
  it('sends only what changed, trimmed, with cleared text as null', () => {
    const before = { ...EMPTY_PATIENT, name: 'Ana', email: 'a@x.org', dietary_preferences: 'vegan' };
    expect(changedFields(before, { ...before })).toEqual({});
    expect(changedFields(before, { ...before, dietary_preferences: '', contact_details: ' 0400 ' })).toEqual({
      dietary_preferences: null,
      contact_details: '0400',
    });
  });
});

describe('mergeRefreshed', () => {
  it('keeps what is being typed through a sync, takes the rest, and names fields changed under the typing', () => {
    const before = { ...EMPTY_PATIENT, name: 'Ana', email: 'a@x.org', medical_history: 'old', dietary_preferences: 'vegan' };
    const typed = { ...before, medical_history: 'typing…', dietary_preferences: 'vegetarian' };
    const after = { ...before, email: 'ana@x.org', dietary_preferences: 'keto' };
    const { value, elsewhere } = mergeRefreshed(before, typed, after);
    expect(value).toEqual({ ...after, medical_history: 'typing…', dietary_preferences: 'vegetarian' });
    expect(elsewhere).toEqual(['dietary_preferences']);
    // Saving then sends the typing against the new values.
    expect(changedFields(after, value)).toEqual({ medical_history: 'typing…', dietary_preferences: 'vegetarian' });
  });
});
