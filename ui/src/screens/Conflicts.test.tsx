import { fireEvent, render, screen } from '@testing-library/preact';
import type { Conflict, Status } from '../api';
import { StatusContext } from '../components';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { Conflicts } = await import('./Conflicts');

const status: Status = { ...SIGNED_IN, user: null, conflicts: 2, rejected: 1, default_server: '' };

const conflicts: Conflict[] = [
  {
    id: 1,
    table: 'patients',
    row_id: 'p1',
    kind: 'deleted_on_server',
    label: 'Ana Lima',
    field: '',
    mine: { name: 'Ana Lima', medical_history: 'Type 2 diabetes', version: 3 },
    theirs: null,
  },
  {
    id: 2,
    table: 'patients',
    row_id: 'p2',
    kind: 'edited_on_server',
    label: 'Bruno Okafor',
    field: '',
    mine: null,
    theirs: { name: 'Bruno Okafor' },
  },
];

const refused = [
  {
    mutation_id: 'm1',
    table: 'patients',
    row_id: 'p3',
    op: 'delete',
    fields: { documents: { d1: 2 } },
    code: 'forbidden',
    reason: 'only the patient’s dietician may change or delete the patient',
    created_at: '2026-11-29T10:00:00Z',
  },
];

function answer(command: string) {
  if (command === 'conflicts') return Promise.resolve(conflicts);
  if (command === 'rejected') return Promise.resolve(refused);
  return Promise.resolve(null);
}

describe('Conflicts', () => {
  beforeEach(() => invoke.mockReset().mockImplementation(answer));

  it('asks about deleted and edited records in words, with what was changed here', async () => {
    render(
      <StatusContext.Provider value={status}>
        <Conflicts />
      </StatusContext.Provider>,
    );
    await screen.findByText('Ana Lima was deleted on the platform');
    expect(screen.getByText('Type 2 diabetes')).toBeTruthy();
    expect(screen.getByText('Restore it with my changes')).toBeTruthy();
    expect(screen.getByText('You deleted Bruno Okafor')).toBeTruthy();
    expect(screen.getByText('Delete it anyway')).toBeTruthy();
    // No merge for a whole record, and no field-by-field sides.
    expect(screen.queryByText('Merge…')).toBeNull();
    // A refused delete does not show its bookkeeping.
    expect(screen.queryByText('documents')).toBeNull();

    fireEvent.click(screen.getByText('Restore it with my changes'));
    fireEvent.click(screen.getByText('Keep the patient'));
    await vi.waitFor(() =>
      expect(invoke.mock.calls.filter(([c]) => c === 'resolve_conflict')).toEqual([
        ['resolve_conflict', { id: 1, resolution: { keep: 'mine' } }],
        ['resolve_conflict', { id: 2, resolution: { keep: 'theirs' } }],
      ]),
    );
  });
});
