import { fireEvent, render, screen, within } from '@testing-library/preact';
import type { RejectedEdit, Status } from '../api';
import { StatusContext } from '../components';
import { formatDateTime } from '../lib/format';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { Conflicts } = await import('./Conflicts');

const status: Status = { ...SIGNED_IN, user: null, rejected: 3, default_server: '' };

const refused: RejectedEdit[] = [
  {
    mutation_id: 'm-new-patient',
    table: 'patients',
    row_id: 'p-draft',
    op: 'insert',
    fields: { name: 'Ana Lima', email: 'ana@example.org' },
    code: 'invalid',
    reason: 'email is already used by another patient',
    created_at: '2026-11-29T10:00:05Z',
  },
  {
    mutation_id: 'm-new-doc',
    table: 'healthcare_documents',
    row_id: 'd-draft',
    op: 'insert',
    fields: { title: 'Blood panel' },
    code: 'invalid',
    reason: 'date must not be in the future',
    created_at: '2026-11-29T10:01:00Z',
  },
  {
    mutation_id: 'm-edit',
    table: 'patients',
    row_id: 'p2',
    op: 'update',
    fields: { dietary_preferences: 'vegan' },
    code: 'forbidden',
    reason: 'only the patient’s dietician may change or delete the patient',
    created_at: '2026-11-28T08:30:00Z',
  },
];

function answer(command: string) {
  if (command === 'conflicts') return Promise.resolve([]);
  if (command === 'rejected') return Promise.resolve(refused);
  return Promise.resolve(null);
}

const card = (id: string) => within(document.querySelector(`[data-mutation-id="${id}"]`) as HTMLElement);
const dismissals = () => invoke.mock.calls.filter(([c]) => c === 'dismiss_rejected');

function show() {
  return render(
    <StatusContext.Provider value={status}>
      <Conflicts />
    </StatusContext.Provider>,
  );
}

describe('Conflicts: refused changes', () => {
  beforeEach(() => {
    invoke.mockReset().mockImplementation(answer);
  });

  it('offers a refused creation a correction or a discard, asked first', async () => {
    show();
    await screen.findByText('New patient Ana Lima was not accepted');
    const patient = card('m-new-patient');
    expect(patient.getByText('Email is already used by another patient.')).toBeTruthy();
    expect(patient.getByText(formatDateTime('2026-11-29T10:00:05Z'))).toBeTruthy();
    expect(patient.getByText('Correct it').getAttribute('href')).toBe('#/patients/p-draft');
    expect(patient.queryByText('Dismiss')).toBeNull();
    expect(card('m-new-doc').getByText('Correct it').getAttribute('href')).toBe('#/documents/d-draft');

    fireEvent.click(patient.getByText('Discard'));
    expect(dismissals()).toEqual([]);
    expect(patient.getByRole('alertdialog').textContent).toContain('removed from this computer');
    fireEvent.click(within(patient.getByRole('alertdialog')).getByText('Discard'));
    await vi.waitFor(() => expect(dismissals()).toEqual([['dismiss_rejected', { mutation_id: 'm-new-patient' }]]));
  });

  it('lets a refused edit be dismissed at once', async () => {
    show();
    await screen.findByText('A change to a patient was refused');
    const edit = card('m-edit');
    expect(edit.queryByText('Discard')).toBeNull();
    expect(edit.queryByText('Correct it')).toBeNull();
    expect(edit.getByText('Only the patient’s dietician may change or delete the patient.')).toBeTruthy();
    fireEvent.click(edit.getByText('Dismiss'));
    await vi.waitFor(() => expect(dismissals()).toEqual([['dismiss_rejected', { mutation_id: 'm-edit' }]]));
  });
});
