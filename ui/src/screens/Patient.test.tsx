import { act, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import type { DocumentSummary, PatientDetail as Detail, Status } from '../api';
import { StatusContext } from '../components';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: () => Promise.resolve(() => {}) }));

const { PatientDetail } = await import('./PatientDetail');
const { DocumentList } = await import('./Documents');
const { App } = await import('../app');

const status: Status = { ...SIGNED_IN, last_sync: '2026-11-29T10:00:00Z', default_server: '' };

const all = { edit: true, delete: true, add_documents: true, request_documents: true };

function detail(patient: Partial<Detail['patient']>, can = all, refusals: Detail['refusals'] = []): Detail {
  return {
    patient: { id: 'p1', name: 'Ana Lima', email: 'ana@example.org', birth_date: '1978-04-12', medical_history: 'old', ...patient },
    sync_state: 'synced',
    conflicted_fields: [],
    deletion_in_question: false,
    can,
    refusals,
  };
}

const view = (s: Status) => (
  <StatusContext.Provider value={s}>
    <PatientDetail id="p1" />
  </StatusContext.Provider>
);

function answer(current: () => Detail) {
  invoke.mockImplementation((cmd: string) => {
    if (cmd === 'patient') return Promise.resolve(current());
    if (cmd === 'documents' || cmd === 'providers') return Promise.resolve([]);
    return Promise.resolve(null);
  });
}

describe('PatientDetail', () => {
  beforeEach(() => invoke.mockReset());

  it('keeps what is being typed through a sync, refreshes the rest and says what changed under it', async () => {
    let stored = detail({});
    answer(() => stored);
    const { rerender } = render(view(status));
    const history = (await screen.findByLabelText('Medical history')) as HTMLTextAreaElement;
    fireEvent.input(history, { target: { value: 'Coeliac disease, typed here' } });

    // The platform changed the email and the history meanwhile; a sync brings both.
    stored = detail({ email: 'ana.lima@example.org', medical_history: 'changed elsewhere' });
    rerender(view({ ...status, last_sync: '2026-11-29T10:01:00Z' }));
    await waitFor(() => expect((screen.getByLabelText('Email') as HTMLInputElement).value).toBe('ana.lima@example.org'));
    expect((screen.getByLabelText('Medical history') as HTMLTextAreaElement).value).toBe('Coeliac disease, typed here');
    expect(screen.getByText(/Changed on the platform while you were typing here/)).toBeTruthy();

    // Saving sends the typing, not the refreshed email.
    fireEvent.submit(screen.getByText('Save changes').closest('form')!);
    await waitFor(() =>
      expect(invoke).toHaveBeenCalledWith('update_patient', { id: 'p1', fields: { medical_history: 'Coeliac disease, typed here' } }),
    );
  });

  it('says a link awaits approval, and offers a request to the provider only under an approved one', async () => {
    let stored = detail({ provider_id: 'php1', provider_patient_identifier: 'MRN-1', link_approval: 'pending' });
    answer(() => stored);
    const { rerender } = render(view(status));
    expect((await screen.findByText(/awaits an administrator's approval/)).closest('p')!.dataset.state).toBe('Pending approval');
    expect(screen.queryByText(/Request documents/)).toBeNull();

    stored = detail({ provider_id: 'php1', link_approval: 'refused' });
    rerender(view({ ...status, last_sync: '2026-11-29T10:01:00Z' }));
    expect((await screen.findByText(/refused the link/)).closest('p')!.dataset.state).toBe('Needs a person');
    expect(screen.queryByText(/awaits an administrator's approval/)).toBeNull();
    expect(screen.queryByText(/Request documents/)).toBeNull();

    stored = detail({ provider_id: 'php1', link_approval: 'approved' });
    rerender(view({ ...status, last_sync: '2026-11-29T10:02:00Z' }));
    await screen.findByText(/Request documents/);
    expect(screen.queryByText(/refused the link/)).toBeNull();
  });

  it('offers only what the rules allow', async () => {
    answer(() => detail({}, { edit: false, delete: false, add_documents: false, request_documents: false }));
    render(
      <StatusContext.Provider value={{ ...status, user: { ...status.user!, type: 'practitioner' } }}>
        <PatientDetail id="p1" />
      </StatusContext.Provider>,
    );
    await screen.findByText('Ana Lima', { selector: 'h1' });
    expect(screen.queryByText('Delete patient')).toBeNull();
    expect(screen.queryByText('Save changes')).toBeNull();
    expect(screen.queryByText('New document')).toBeNull();
    expect(screen.queryByText(/Request documents/)).toBeNull();
    expect((screen.getByLabelText('Name') as HTMLInputElement).closest('fieldset')!.disabled).toBe(true);
  });

  it('shows a refused creation with the reason and what to do, never as synced', async () => {
    answer(() => ({
      ...detail({}),
      sync_state: 'error',
      refusals: [
        {
          mutation_id: 'm1',
          table: 'patients',
          row_id: 'p1',
          op: 'insert',
          fields: {},
          code: 'duplicate_patient',
          reason: 'one of your patients already has this email address',
          created_at: '2026-11-29T10:00:00Z',
        },
      ],
    }));
    render(
      <StatusContext.Provider value={status}>
        <PatientDetail id="p1" />
      </StatusContext.Provider>,
    );
    const banner = await screen.findByText(/has not reached the platform/);
    expect(banner.closest('[role=alert]')!.textContent).toContain('already has this email address');
    expect(screen.getByText('Save and send again')).toBeTruthy();
    expect(screen.getByText('Discard this patient')).toBeTruthy();
    expect(screen.queryByText('Synced')).toBeNull();
  });

  it('shows a refused field next to the field, in the platform’s words', async () => {
    answer(() => detail({}));
    render(
      <StatusContext.Provider value={status}>
        <PatientDetail id="p1" />
      </StatusContext.Provider>,
    );
    const email = (await screen.findByLabelText('Email')) as HTMLInputElement;
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'update_patient') {
        return Promise.reject({ code: 'validation_failed', message: 'Email: must be an email address like name@example.org.', field: 'email' });
      }
      if (cmd === 'document_digest') return Promise.resolve(null);
      return Promise.resolve(cmd === 'patient' ? detail({}) : []);
    });
    fireEvent.input(email, { target: { value: 'ana@example' } });
    fireEvent.submit(screen.getByText('Save changes').closest('form')!);
    const message = await screen.findByText('Email: must be an email address like name@example.org.');
    expect(message.id).toBe('patient-email-error');
    expect(email.getAttribute('aria-invalid')).toBe('true');
  });
});

describe('leaving with unsaved edits', () => {
  beforeEach(() => invoke.mockReset());

  it('asks first, and stays unless told to leave', async () => {
    window.location.hash = '#/patients/p1';
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'startup_error') return Promise.resolve(null);
      if (cmd === 'status') return Promise.resolve(status);
      if (cmd === 'patient') return Promise.resolve(detail({}));
      if (cmd === 'documents' || cmd === 'providers') return Promise.resolve([]);
      if (cmd === 'patients') return Promise.resolve({ total: 0, offset: 0, items: [] });
      return Promise.resolve(null);
    });
    render(<App />);
    const diet = (await screen.findByLabelText('Dietary preferences')) as HTMLTextAreaElement;
    fireEvent.input(diet, { target: { value: 'Low FODMAP' } });
    await act(async () => {
      window.location.hash = '#/documents';
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    expect(await screen.findByText(/You have not saved your changes to Ana Lima/)).toBeTruthy();
    expect(window.location.hash).toBe('#/patients/p1');
    fireEvent.click(screen.getByText('Stay and keep editing'));
    expect((screen.getByLabelText('Dietary preferences') as HTMLTextAreaElement).value).toBe('Low FODMAP');

    // A link is asked about before it navigates: no history entry until the person chooses.
    const before = history.length;
    fireEvent.click(screen.getByText('Documents', { selector: 'nav a' }));
    expect(await screen.findByText(/You have not saved your changes to Ana Lima/)).toBeTruthy();
    expect(window.location.hash).toBe('#/patients/p1');
    expect(history.length).toBe(before);
    await act(async () => {
      fireEvent.click(screen.getByText('Leave without saving'));
    });
    expect(window.location.hash).toBe('#/documents');
  });
});

describe('DocumentList across patients', () => {
  it('names the patient on every row, with the birth date where names repeat', async () => {
    const doc = (id: string, patient: string, name: string, birth: string): DocumentSummary => ({
      id,
      patient_id: patient,
      type: 'discharge summary',
      date: '2026-03-01',
      title: 'Discharge summary',
      source: 'Primary Healthcare Provider',
      sync_state: 'synced',
      patient_name: name,
      patient_birth_date: birth,
    });
    invoke.mockResolvedValue([
      doc('d1', 'p1', 'Ana Lima', '1978-04-12'),
      doc('d2', 'p2', 'Ana Lima', '1990-01-05'),
      doc('d3', 'p3', 'Bruno Costa', '1965-07-30'),
    ]);
    render(
      <StatusContext.Provider value={status}>
        <DocumentList />
      </StatusContext.Provider>,
    );
    await screen.findByText('Bruno Costa');
    const names = [...document.querySelectorAll('.doc-patient')].map((a) => a.textContent);
    expect(names[0]).toMatch(/^Ana Lima \(born .*1978/);
    expect(names[1]).toMatch(/^Ana Lima \(born .*1990/);
    expect(names[2]).toBe('Bruno Costa');
    expect(screen.getByPlaceholderText('Title, text or patient')).toBeTruthy();
  });
});
