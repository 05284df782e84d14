import { changedFields, EMPTY_PATIENT } from './PatientForm';

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
