import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import type { LinkReview, Status } from '../api';
import { StatusContext } from '../components';
import { account, SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { Links } = await import('./Links');

const admin: Status = {
  ...SIGNED_IN,
  user: account({ id: 'a1', email: 'ada@example.org', name: 'Ada', type: 'admin' }),
  can: { create_patients: false, read_inquiries: false, manage_users: true, create_user_types: ['admin'] },
};

const review = (patient: string, name: string, php_match: LinkReview['php_match'], php_name: string | null): LinkReview => ({
  patient_id: patient,
  patient_name: name,
  birth_date: '1978-04-12',
  dietician_id: 'd1',
  dietician_name: 'Dee',
  provider_id: 'php1',
  provider_name: 'Springfield Clinic',
  provider_patient_identifier: 'urn:mrn|MRN-1',
  link_approval: 'pending',
  updated_at: '2026-11-29T10:00:00Z',
  php_match,
  php_name,
  php_birth_date: php_name ? '1978-04-12' : null,
  fingerprint: `fp-${patient}`,
});

const show = (s: Status) =>
  render(
    <StatusContext.Provider value={s}>
      <Links />
    </StatusContext.Provider>,
  );

describe('Link approvals', () => {
  beforeEach(() => {
    invoke.mockReset();
  });

  it("shows the provider's record beside ours and approves only a found one, as reviewed", async () => {
    let queue = [review('p1', 'Ana Lima', 'found', 'Ana Lima'), review('p2', 'Rita Souza', 'differs', 'Rita Sousa')];
    invoke.mockImplementation((cmd: string) => {
      if (cmd === 'link_reviews') return Promise.resolve(queue);
      if (cmd === 'decide_link') {
        queue = queue.slice(1);
        return Promise.resolve(null);
      }
      return Promise.reject(new Error(cmd));
    });
    show(admin);
    const ana = (await screen.findByText('Ana Lima at Springfield Clinic')).closest('article')!;
    const rita = screen.getByText('Rita Souza at Springfield Clinic').closest('article')!;
    expect(rita.querySelector('.php-name')!.textContent).toBe('Rita Sousa');
    expect(rita.textContent).toMatch(/disagree with ours/);
    expect((rita.querySelector('.approve') as HTMLButtonElement).disabled).toBe(true);
    expect((ana.querySelector('.approve') as HTMLButtonElement).disabled).toBe(false);

    fireEvent.click(ana.querySelector('.approve')!);
    await waitFor(() =>
      expect(invoke).toHaveBeenCalledWith('decide_link', { patient_id: 'p1', decision: 'approved', fingerprint: 'fp-p1' }),
    );
    expect((await screen.findByText(/Approved: the link of Ana Lima to Springfield Clinic/)).id).toBe('link-decided');
    await waitFor(() => expect(screen.queryByText('Ana Lima at Springfield Clinic')).toBeNull());
    expect(invoke).toHaveBeenCalledWith('link_reviews', { state: 'pending' });
  });

  it('says that the queue needs a connection, and asks nothing offline', async () => {
    show({ ...admin, online: false });
    expect((await screen.findByText(/connect to see and decide them/)).id).toBe('links-offline');
    expect(invoke).not.toHaveBeenCalled();
  });
});
