import { render, screen } from '@testing-library/preact';
import type { Status } from '../api';
import { StatusContext } from '../components';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

const { PatientList } = await import('./PatientList');

const base: Status = { ...SIGNED_IN, user: null, syncing: true, default_server: '' };

const patients = ['Ana Lima', 'Bruno Okafor', 'Chloe Nguyen'].map((name, i) => ({
  id: `p${i}`,
  name,
  email: `demo${i}@example.org`,
  sync_state: 'synced',
}));

describe('PatientList', () => {
  it('shows the patients a sync brought, after first finding none', async () => {
    // Signed in, first sync still running: the replica is empty.
    invoke.mockResolvedValue({ total: 0, offset: 0, items: [] });
    const { rerender } = render(
      <StatusContext.Provider value={base}>
        <PatientList />
      </StatusContext.Provider>,
    );
    await screen.findByText('No patients yet. Add one, or sync.');
    // The sync finishes: the list starts over and shows what arrived.
    invoke.mockResolvedValue({ total: 3, offset: 0, items: patients });
    rerender(
      <StatusContext.Provider value={{ ...base, syncing: false, last_sync: '2026-11-27T12:00:00Z' }}>
        <PatientList />
      </StatusContext.Provider>,
    );
    expect((await screen.findByText('3 patients')).textContent).toBe('3 patients');
    expect(screen.getByText('Chloe Nguyen')).toBeTruthy();
    expect(screen.queryByText('Loading…')).toBeNull();
    expect(invoke).toHaveBeenLastCalledWith('patients', { search: '', offset: 0, limit: 100 });
  });

  it('drops an answer that arrives after the list started over', async () => {
    let answerStale: (v: unknown) => void = () => {};
    invoke.mockImplementationOnce(() => new Promise((resolve) => (answerStale = resolve)));
    invoke.mockResolvedValue({ total: 3, offset: 0, items: patients });
    const { rerender } = render(
      <StatusContext.Provider value={base}>
        <PatientList />
      </StatusContext.Provider>,
    );
    rerender(
      <StatusContext.Provider value={{ ...base, last_sync: '2026-11-27T12:00:00Z' }}>
        <PatientList />
      </StatusContext.Provider>,
    );
    await screen.findByText('3 patients');
    answerStale({ total: 0, offset: 0, items: [] });
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getByText('3 patients')).toBeTruthy();
    expect(screen.queryByText('No patients yet. Add one, or sync.')).toBeNull();
  });
});
