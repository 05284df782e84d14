// Writing a text document (works offline) or uploading a file (needs a connection).
import { useState } from 'preact/hooks';
import { call, DOCUMENT_TYPES, type AppError } from '../api';
import { ErrorMessage, Field, useStatus } from '../components';
import { toBase64, today } from '../lib/format';

export function NewDocument({ patientId }: { patientId: string }) {
  const status = useStatus();
  const [open, setOpen] = useState(false);
  const [kind, setKind] = useState<string>('progress note');
  const [date, setDate] = useState(today());
  const [title, setTitle] = useState('');
  const [content, setContent] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [done, setDone] = useState<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      if (file) {
        const base64 = toBase64(new Uint8Array(await file.arrayBuffer()));
        await call('upload_document', {
          file: {
            patient_id: patientId,
            type: kind,
            date,
            title: title || file.name,
            file_name: file.name,
            mime_type: file.type || 'application/octet-stream',
            base64,
          },
        });
        setDone('File uploaded.');
      } else {
        await call('create_document', { document: { patient_id: patientId, type: kind, date, title, content } });
        setDone(status?.online ? 'Document saved.' : 'Document saved here; sent when back online.');
      }
      setTitle('');
      setContent('');
      setFile(null);
      setOpen(false);
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <details class="panel" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary id="new-document">New document</summary>
      <form onSubmit={submit} class="form-grid">
        <Field label="Type" id="document-type">
          <select id="document-type" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            {DOCUMENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Date" id="document-date">
          <input id="document-date" type="date" required value={date} onInput={(e) => setDate(e.currentTarget.value)} />
        </Field>
        <Field label="Title" id="document-title">
          <input id="document-title" maxLength={300} required={!file} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </Field>
        <Field label="Text" id="document-content" hint="Or attach a file below instead.">
          <textarea id="document-content" rows={6} disabled={!!file} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
        </Field>
        <Field label="File (PDF, image…)" id="document-file" hint={status?.online ? undefined : 'Uploading a file needs a connection.'}>
          <input
            id="document-file"
            type="file"
            accept="application/pdf,image/*,text/*"
            onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
          />
        </Field>
        <ErrorMessage error={error} />
        <div class="buttons">
          <button type="submit" class="primary" id="save-document" disabled={!!file && !status?.online}>
            {file ? 'Upload' : 'Save document'}
          </button>
        </div>
      </form>
      {done && <p role="status">{done}</p>}
    </details>
  );
}
