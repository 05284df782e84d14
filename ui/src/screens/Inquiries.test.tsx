import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import type { ComponentChildren } from 'preact';
import type { Inquiry, Status } from '../api';
import { StatusContext } from '../components';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { Inquiries } = await import('./Inquiries');
const { PatientNew } = await import('./PatientNew');

// SIGNED_IN is the dietician 'me'.
const inquiry = (id: string, name: string, more: Partial<Inquiry> = {}): Inquiry => ({
  id,
  name,
  email: `${id}@example.org`,
  phone: null,
  message: null,
  practitioner_id: null,
  status: 'new',
  patient_id: null,
  handled_by: null,
  notification: 'sent',
  reference: `ref-${id}`,
  version: 1,
  created_at: '2026-11-29T10:00:00Z',
  updated_at: '2026-11-29T10:00:00Z',
  ...more,
});

const ana = inquiry('i1', 'Ana Lima', {
  practitioner_id: 'me',
  phone: '+351 912 345 678',
  message: 'I would like help with my diet.\nMornings suit me.',
  notification: 'failed',
});
const rui = inquiry('i2', 'Rui Costa', { notification: 'not_configured' });

const show = (s: Status, screenElement: ComponentChildren) =>
  render(<StatusContext.Provider value={s}>{screenElement}</StatusContext.Provider>);

describe('Inquiries', () => {
  beforeEach(() => {
    invoke.mockReset();
    window.location.hash = '';
  });

  it('lists new inquiries, whom they ask for and whether the practice was emailed, and sets one aside', async () => {
    let listed = [ana, rui];
    invoke.mockImplementation((cmd: string, args: { id?: string }) => {
      if (cmd === 'inquiries') return Promise.resolve(listed);
      if (cmd === 'dismiss_inquiry') {
        listed = listed.filter((i) => i.id !== args.id);
        return Promise.resolve({ ...rui, status: 'dismissed' });
      }
      return Promise.reject({ code: 'test', message: cmd });
    });
    show(SIGNED_IN, <Inquiries />);
    const first = (await screen.findByRole('heading', { name: 'Ana Lima' })).closest('article')!;
    const second = screen.getByRole('heading', { name: 'Rui Costa' }).closest('article')!;
    expect(invoke).toHaveBeenCalledWith('inquiries', { status: 'new' });
    expect(first.getAttribute('data-inquiry-id')).toBe('i1');
    expect(first.querySelector('.asked-for')!.textContent).toBe('Asked for you');
    expect(first.querySelector('.reference')!.textContent).toBe('ref-i1');
    expect(second.querySelector('.asked-for')!.textContent).toBe('Open to any dietician');
    expect(first.textContent).toMatch(/\+351 912 345 678/);
    expect(second.textContent).not.toMatch(/Phone/);
    expect(first.querySelector('.message')!.textContent).toBe('I would like help with my diet.\nMornings suit me.');
    expect(first.textContent).toMatch(/The email to the practice failed; an administrator sees why under Jobs\./);
    expect(second.textContent).toMatch(/No email is sent for inquiries: the platform has no mail server set up\./);
    expect(first.querySelector('a.convert')!.getAttribute('href')).toBe('#/inquiries/i1');
    expect(document.querySelector('#inquiries-offline')).toBeNull();

    fireEvent.click(second.querySelector('button.dismiss')!);
    await waitFor(() => expect(invoke).toHaveBeenCalledWith('dismiss_inquiry', { id: 'i2' }));
    expect((await screen.findByText('Set aside: Rui Costa.')).id).toBe('inquiry-done');
    await waitFor(() => expect(screen.queryByRole('heading', { name: 'Rui Costa' })).toBeNull());
  });

  it('shows the other states with what can still be done with them, and an empty list', async () => {
    const made = inquiry('i3', 'Eva Dias', { status: 'converted', patient_id: 'p9' });
    const aside = inquiry('i4', 'Rita Sousa', { status: 'dismissed' });
    invoke.mockImplementation((cmd: string, args: { status?: string }) => {
      if (cmd === 'inquiries') return Promise.resolve(args.status === 'converted' ? [made] : args.status === 'dismissed' ? [aside] : []);
      return Promise.reject({ code: 'test', message: cmd });
    });
    show(SIGNED_IN, <Inquiries />);
    expect((await screen.findByText('No inquiries here.')).id).toBe('inquiries-empty');

    fireEvent.click(document.querySelector('#inquiries-converted')!);
    const converted = (await screen.findByRole('heading', { name: 'Eva Dias' })).closest('article')!;
    expect(converted.querySelector('a.open-patient')!.getAttribute('href')).toBe('#/patients/p9');
    expect(converted.querySelector('.convert')).toBeNull();
    expect(converted.querySelector('.dismiss')).toBeNull();

    fireEvent.click(document.querySelector('#inquiries-dismissed')!);
    const dismissed = (await screen.findByRole('heading', { name: 'Rita Sousa' })).closest('article')!;
    expect(dismissed.querySelector('a.convert')!.getAttribute('href')).toBe('#/inquiries/i4');
    expect(dismissed.querySelector('.dismiss')).toBeNull();
  });

  it('reads again after a sync, and Refresh starts one', async () => {
    let listed = [ana];
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'inquiries') return Promise.resolve(listed);
      if (cmd === 'sync_now') return Promise.resolve(null);
      return Promise.reject({ code: 'test', message: cmd });
    });
    const { rerender } = show(SIGNED_IN, <Inquiries />);
    await screen.findByRole('heading', { name: 'Ana Lima' });
    listed = [ana, rui];
    rerender(
      <StatusContext.Provider value={{ ...SIGNED_IN, last_sync: '2026-11-29T11:00:00Z', new_inquiries: 2 }}>
        <Inquiries />
      </StatusContext.Provider>,
    );
    await screen.findByRole('heading', { name: 'Rui Costa' });
    fireEvent.click(document.querySelector('#inquiries-refresh')!);
    await waitFor(() => expect(invoke).toHaveBeenCalledWith('sync_now', undefined));
  });

  it('keeps inquiries readable offline, and says why Set aside waits for a connection', async () => {
    invoke.mockImplementation((cmd: string) => (cmd === 'inquiries' ? Promise.resolve([ana]) : Promise.reject({ code: 'test', message: cmd })));
    show({ ...SIGNED_IN, online: false }, <Inquiries />);
    const card = (await screen.findByRole('heading', { name: 'Ana Lima' })).closest('article')!;
    expect((card.querySelector('button.dismiss') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText(/connect to do them\. The inquiries themselves stay readable here\./).id).toBe('inquiries-offline');
    expect((document.querySelector('#inquiries-refresh') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(card.querySelector('button.dismiss')!);
    expect(invoke).not.toHaveBeenCalledWith('dismiss_inquiry', expect.anything());
  });
});

describe('New patient from an inquiry', () => {
  beforeEach(() => {
    invoke.mockReset();
    window.location.hash = '';
  });

  const answering = (outcome: unknown) =>
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'inquiries') return Promise.resolve([rui, ana]);
      if (cmd === 'providers') return Promise.resolve([]);
      if (cmd === 'convert_inquiry') return Promise.resolve(outcome);
      return Promise.reject({ code: 'test', message: cmd });
    });

  it('is prefilled from the inquiry and converts it, warning of a duplicate', async () => {
    answering({ outcome: 'duplicate', existing_id: 'p7', name: 'Ana Lima' });
    show(SIGNED_IN, <PatientNew inquiry="i1" />);
    await waitFor(() => expect((screen.getByLabelText('Name') as HTMLInputElement).value).toBe('Ana Lima'));
    expect(invoke).toHaveBeenCalledWith('inquiries', { status: null });
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('New patient from an inquiry');
    expect((screen.getByLabelText('Email') as HTMLInputElement).value).toBe('i1@example.org');
    expect((screen.getByLabelText('Contact details') as HTMLTextAreaElement).value).toBe('+351 912 345 678');
    expect(document.querySelector('#inquiry-source .message')!.textContent).toMatch(/help with my diet/);
    expect(screen.queryByText(/Works offline/)).toBeNull();
    expect(document.querySelector('#convert-offline')).toBeNull();

    fireEvent.input(screen.getByLabelText('Dietary preferences'), { target: { value: 'Vegetarian' } });
    const save = document.querySelector('#save-patient') as HTMLButtonElement;
    expect(save.textContent).toBe('Create patient');
    fireEvent.submit(save.closest('form')!);
    await waitFor(() =>
      expect(invoke).toHaveBeenCalledWith('convert_inquiry', {
        id: 'i1',
        fields: { name: 'Ana Lima', email: 'i1@example.org', contact_details: '+351 912 345 678', dietary_preferences: 'Vegetarian' },
      }),
    );
    expect(invoke).not.toHaveBeenCalledWith('create_patient', expect.anything());
    const warning = await screen.findByRole('alert');
    expect(warning.id).toBe('duplicate-warning');
    expect(warning.querySelector('#duplicate-link')!.getAttribute('href')).toBe('#/patients/p7');
  });

  it("opens the new patient's record once made", async () => {
    answering({ outcome: 'created', id: 'p8' });
    show(SIGNED_IN, <PatientNew inquiry="i2" />);
    await waitFor(() => expect((screen.getByLabelText('Name') as HTMLInputElement).value).toBe('Rui Costa'));
    fireEvent.submit(document.querySelector('#save-patient')!.closest('form')!);
    await waitFor(() => expect(window.location.hash).toBe('#/patients/p8'));
    expect(invoke).toHaveBeenCalledWith('convert_inquiry', { id: 'i2', fields: { name: 'Rui Costa', email: 'i2@example.org' } });
  });

  it('says so when the inquiry is not on this computer', async () => {
    answering(null);
    show(SIGNED_IN, <PatientNew inquiry="gone" />);
    expect((await screen.findByText('This inquiry is not on this computer.')).id).toBe('inquiry-missing');
    expect(document.querySelector('form')).toBeNull();
  });

  it('cannot convert offline, and says why', async () => {
    answering({ outcome: 'created', id: 'p8' });
    show({ ...SIGNED_IN, online: false }, <PatientNew inquiry="i1" />);
    await waitFor(() => expect((screen.getByLabelText('Name') as HTMLInputElement).value).toBe('Ana Lima'));
    const save = document.querySelector('#save-patient') as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    expect(screen.getByText(/needs a connection, so that two dieticians never make two patients/).id).toBe('convert-offline');
  });

  it('leaves the plain new patient form as it was: offline, with the footnote, through create_patient', async () => {
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'providers') return Promise.resolve([]);
      if (cmd === 'create_patient') return Promise.resolve({ outcome: 'created', id: 'p5' });
      return Promise.reject({ code: 'test', message: cmd });
    });
    show({ ...SIGNED_IN, online: false }, <PatientNew />);
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('New patient');
    expect(screen.getByText(/Works offline/)).toBeTruthy();
    expect(document.querySelector('#convert-offline')).toBeNull();
    const save = document.querySelector('#save-patient') as HTMLButtonElement;
    expect(save.disabled).toBe(false);
    fireEvent.input(screen.getByLabelText('Name'), { target: { value: 'Eva Dias' } });
    fireEvent.input(screen.getByLabelText('Email'), { target: { value: 'eva@example.org' } });
    fireEvent.submit(save.closest('form')!);
    await waitFor(() => expect(invoke).toHaveBeenCalledWith('create_patient', { fields: { name: 'Eva Dias', email: 'eva@example.org' } }));
    expect(invoke).not.toHaveBeenCalledWith('inquiries', expect.anything());
  });
});
