import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import type { AuditEntry, Status } from '../api';
import { StatusContext } from '../components';
import { account, SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: () => Promise.resolve(() => {}) }));

const { Audit } = await import('./Audit');
const { App } = await import('../app');

const ada = account({ id: 'a1', email: 'ada@example.org', name: 'Ada', type: 'admin' });
const dee = account({ id: 'd1', email: 'dee@example.org', name: 'Dee', type: 'dietician' });
const admin: Status = { ...SIGNED_IN, user: ada, can: { create_patients: false, read_inquiries: false, manage_users: true, create_user_types: ['admin'] } };

const read = (seq: number, user: string, entity: string): AuditEntry => ({
  seq,
  user_id: user,
  action: 'read',
  entity,
  entity_id: 'x',
  patient_id: 'p1',
  at: '2026-11-29T10:00:00Z',
});

describe('Audit trail', () => {
  beforeEach(() => {
    invoke.mockReset();
  });

  it('names who read what, and filters by person and day', async () => {
    invoke.mockImplementation((cmd: string, args: { filter?: { user_id?: string } }) => {
      if (cmd === 'users') return Promise.resolve({ items: [ada, dee], next_cursor: null });
      if (cmd === 'audit_trail') {
        const all = [read(2, 'd1', 'document content'), read(1, 'a1', 'patient')];
        const items = args.filter?.user_id ? all.filter((e) => e.user_id === args.filter!.user_id) : all;
        return Promise.resolve({ items, next_cursor: null });
      }
      return Promise.reject(new Error(cmd));
    });
    render(
      <StatusContext.Provider value={admin}>
        <Audit />
      </StatusContext.Provider>,
    );
    await waitFor(() => expect([...document.querySelectorAll('#audit .who')].map((c) => c.textContent)).toEqual(['Dee', 'You']));
    expect(screen.getByText('a document content')).toBeTruthy();
    await screen.findByText('Dee', { selector: 'option' });
    fireEvent.change(screen.getByLabelText('Person'), { target: { value: 'd1' } });
    await waitFor(() => expect(invoke).toHaveBeenCalledWith('audit_trail', { filter: { patient_id: undefined, user_id: 'd1', cursor: undefined } }));
    await waitFor(() => expect(document.querySelectorAll('#audit tbody tr').length).toBe(1));
    fireEvent.input(screen.getByLabelText('From'), { target: { value: '2026-11-29' } });
    await waitFor(() =>
      expect(invoke).toHaveBeenCalledWith('audit_trail', { filter: { patient_id: undefined, user_id: 'd1', from: '2026-11-29', cursor: undefined } }),
    );
  });

  it("shows a dietician one patient's reads, without the list of people", async () => {
    invoke.mockImplementation((cmd: string) =>
      cmd === 'audit_trail' ? Promise.resolve({ items: [read(1, 'd1', 'patient')], next_cursor: null }) : Promise.reject(new Error(cmd)),
    );
    render(
      <StatusContext.Provider value={{ ...SIGNED_IN, user: dee }}>
        <Audit patientId="p1" />
      </StatusContext.Provider>,
    );
    expect((await screen.findByText('You')).className).toBe('who');
    expect(screen.queryByLabelText('Person')).toBeNull();
    expect(invoke).toHaveBeenCalledWith('audit_trail', { filter: { patient_id: 'p1', cursor: undefined } });
    expect(invoke).not.toHaveBeenCalledWith('users', undefined);
  });

  it("follows the route: from the whole trail to one patient's reads and back", async () => {
    window.location.hash = '#/audit';
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'startup_error') return Promise.resolve(null);
      if (cmd === 'status') return Promise.resolve(admin);
      if (cmd === 'users') return Promise.resolve({ items: [ada, dee], next_cursor: null });
      if (cmd === 'audit_trail') return Promise.resolve({ items: [read(1, 'd1', 'patient')], next_cursor: null });
      return Promise.resolve(null);
    });
    render(<App />);
    expect((await screen.findByText('Audit trail', { selector: 'h1' })).id).toBe('page-title');
    fireEvent.click(await screen.findByText("This patient's reads"));
    await screen.findByText("Who read this patient's data", { selector: 'h1' });
    await waitFor(() => expect(invoke).toHaveBeenCalledWith('audit_trail', { filter: { patient_id: 'p1', cursor: undefined } }));
    window.history.back();
    await screen.findByText('Audit trail', { selector: 'h1' });
    expect(await screen.findByText('Patient', { selector: 'th' })).toBeTruthy();
  });
});
