// Files on this computer: keeping one patient's files for a home visit, and what the local
// copy holds on disk with the budget for everyone's files (Profile).
import { useEffect, useState } from 'preact/hooks';
import { call, on, type AppError } from '../api';
import type { DiskUse } from '../bindings/DiskUse';
import type { PatientFiles } from '../bindings/PatientFiles';
import { ErrorMessage, useStatus } from '../components';
import { fileSize, plural } from '../lib/format';

/** "Keep this patient available offline", with how many of their files are here. */
export function KeepOffline({ patientId }: { patientId: string }) {
  const status = useStatus();
  const [files, setFiles] = useState<PatientFiles | null>(null);
  const [fetched, setFetched] = useState(0);
  const [error, setError] = useState<AppError | null>(null);

  // Counted again as files arrive (the sync bar shows the fetch) and after each sync.
  useEffect(() => {
    const unlisten = on('sync-progress', (p) => {
      if (p.phase === 'keeping') setFetched(p.done);
    });
    return () => {
      unlisten.then((stop) => stop());
    };
  }, []);
  useEffect(() => {
    call('patient_files', { patient_id: patientId }).then(setFiles, setError);
  }, [patientId, status?.last_sync, status?.pending, fetched]);

  async function toggle(keep: boolean) {
    setError(null);
    try {
      setFiles(await call('keep_offline', { patient_id: patientId, keep }));
    } catch (err) {
      setError(err as AppError);
    }
  }

  if (!files) return <ErrorMessage error={error} />;
  const missing = files.documents - files.here;
  return (
    <div class="keep-offline">
      <label>
        <input type="checkbox" id="keep-offline" checked={files.kept} onChange={(e) => toggle(e.currentTarget.checked)} />{' '}
        Keep this patient available offline
      </label>{' '}
      <span class="muted" id="offline-files" data-here={files.here} data-documents={files.documents}>
        {files.documents === 0
          ? 'No documents yet.'
          : missing === 0
            ? `All ${plural(files.documents, 'document', 'documents')} can be read offline.`
            : `${files.here} of ${plural(files.documents, 'document', 'documents')} can be read offline${
                files.kept ? (status?.online ? '; the rest are being fetched.' : '; the rest come when back online.') : '.'
              }`}
      </span>
      <ErrorMessage error={error} />
    </div>
  );
}

/** The local copy on disk, and the budget for keeping everyone's files. */
export function DiskUsePanel() {
  const status = useStatus();
  const [disk, setDisk] = useState<DiskUse | null>(null);
  const [budget, setBudget] = useState('');
  const [error, setError] = useState<AppError | null>(null);

  useEffect(() => {
    call('disk_use').then((d) => {
      setDisk(d);
      setBudget(d.budget_bytes == null ? '' : String(Math.round(d.budget_bytes / (1024 * 1024))));
    }, setError);
  }, [status?.last_sync]);

  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    const text = budget.trim();
    const megabytes = text === '' ? null : Number(text);
    if (megabytes !== null && (!Number.isInteger(megabytes) || megabytes < 0 || megabytes > 1_000_000)) {
      setError({ code: 'invalid', message: 'Give a whole number of megabytes, or leave it empty.', field: 'budget' });
      return;
    }
    try {
      setDisk(await call('set_file_budget', { megabytes }));
    } catch (err) {
      setError(err as AppError);
    }
  }

  if (!disk) return <ErrorMessage error={error} />;
  return (
    <section class="panel" aria-labelledby="disk-heading">
      <h2 id="disk-heading">This computer</h2>
      <dl class="meta">
        <dt>Local copy (encrypted)</dt>
        <dd id="disk-replica">{fileSize(disk.replica_bytes)}</dd>
        <dt>Files readable offline</dt>
        <dd id="disk-files">
          {plural(disk.files_here, 'document', 'documents')}, {fileSize(disk.file_bytes) || '0 B'}
          {disk.files_elsewhere > 0 && ` (${disk.files_elsewhere} more on the platform only)`}
        </dd>
        <dt>Patients kept offline</dt>
        <dd id="disk-kept">{disk.patients_kept}</dd>
      </dl>
      <form onSubmit={save} class="stack">
        <label for="file-budget">Keep files of all my patients, newest first, up to (MB)</label>
        <div class="row-fields">
          <input id="file-budget" inputMode="numeric" value={budget} placeholder="no budget" onInput={(e) => setBudget(e.currentTarget.value)} aria-describedby="file-budget-hint" />
          <button type="submit" id="save-file-budget">
            Save
          </button>
        </div>
        <p class="muted" id="file-budget-hint">
          Empty: only files opened, attached here, or of patients kept offline. Files beyond the budget are removed from this computer (they stay on the
          platform); texts stay, for search.
        </p>
      </form>
      <ErrorMessage error={error} />
    </section>
  );
}
