import { fireEvent, render, screen, waitFor } from '@testing-library/preact';
import type { Status } from '../api';
import type { DiskUse } from '../bindings/DiskUse';
import { StatusContext } from '../components';
import { SIGNED_IN } from '../test-support';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: () => Promise.resolve(() => {}) }));

const { DiskUsePanel, KeepOffline } = await import('./OfflineFiles');

const status: Status = { ...SIGNED_IN, online: true };

function show(node: preact.ComponentChild, s: Status = status) {
  return render(<StatusContext.Provider value={s}>{node}</StatusContext.Provider>);
}

const disk = (over: Partial<DiskUse> = {}): DiskUse => ({
  replica_bytes: 40 * 1024 * 1024,
  files_here: 12,
  file_bytes: 6 * 1024 * 1024,
  files_elsewhere: 30,
  patients_kept: 1,
  budget_bytes: null,
  ...over,
});

describe('Keep this patient available offline', () => {
  it('says how many files are here and keeps the rest when asked', async () => {
    let kept = false;
    invoke.mockReset().mockImplementation((command: string, args: { keep?: boolean }) => {
      if (command === 'keep_offline') kept = !!args.keep;
      return Promise.resolve({ kept, documents: 5, here: kept ? 2 : 1 });
    });
    show(<KeepOffline patientId="p1" />);
    expect(await screen.findByText('1 of 5 documents can be read offline.')).toBeTruthy();
    fireEvent.click(screen.getByLabelText('Keep this patient available offline'));
    await waitFor(() => expect(invoke).toHaveBeenCalledWith('keep_offline', { patient_id: 'p1', keep: true }));
    expect(await screen.findByText('2 of 5 documents can be read offline; the rest are being fetched.')).toBeTruthy();
  });

  it('says when everything is here', async () => {
    invoke.mockReset().mockResolvedValue({ kept: true, documents: 3, here: 3 });
    show(<KeepOffline patientId="p1" />);
    expect(await screen.findByText('All 3 documents can be read offline.')).toBeTruthy();
  });
});

describe('This computer (Profile)', () => {
  it('shows the disk use and saves a budget in megabytes', async () => {
    invoke.mockReset().mockImplementation((command: string, args: { megabytes?: number | null }) =>
      Promise.resolve(command === 'set_file_budget' ? disk({ budget_bytes: (args.megabytes ?? 0) * 1024 * 1024 }) : disk()),
    );
    show(<DiskUsePanel />);
    expect(await screen.findByText('40 MB')).toBeTruthy();
    expect(screen.getByText('12 documents, 6.0 MB (30 more on the platform only)')).toBeTruthy();
    fireEvent.input(screen.getByLabelText(/up to \(MB\)/), { target: { value: '500' } });
    fireEvent.click(screen.getByText('Save'));
    await waitFor(() => expect(invoke).toHaveBeenCalledWith('set_file_budget', { megabytes: 500 }));
  });

  it('refuses a budget that is not a whole number, and sends nothing', async () => {
    invoke.mockReset().mockResolvedValue(disk());
    show(<DiskUsePanel />);
    await screen.findByText('40 MB');
    fireEvent.input(screen.getByLabelText(/up to \(MB\)/), { target: { value: 'lots' } });
    fireEvent.click(screen.getByText('Save'));
    expect(await screen.findByText('Give a whole number of megabytes, or leave it empty.')).toBeTruthy();
    expect(invoke.mock.calls.some(([c]) => c === 'set_file_budget')).toBe(false);
  });
});
