// Writing a note (from a template if wanted) or attaching a file, for one patient; both work
// offline: kept here at once and sent at the next sync.
import { useState } from 'preact/hooks';
import { call, type AppError } from '../api';
import { atField, DateInput, ErrorMessage, Field, TypeSelect, useStatus } from '../components';
import { fileSize, toBase64, today, typeLabel } from '../lib/format';
import { useUnsaved } from '../lib/route';

/** Note templates dieticians document in: headings to fill in. */
export const TEMPLATES: Record<string, { label: string; text: string }> = {
  soap: {
    label: 'SOAP',
    text: 'Subjective:\n\n\nObjective:\n\n\nAssessment:\n\n\nPlan:\n\n',
  },
  adime: {
    label: 'ADIME (Nutrition Care Process)',
    text:
      'Assessment (food and nutrition history, anthropometrics, biochemical data, clinical findings):\n\n\n' +
      'Nutrition diagnosis (PES: problem related to etiology as evidenced by signs and symptoms):\n\n\n' +
      'Intervention (goals, nutrition prescription, education, coordination):\n\n\n' +
      'Monitoring and evaluation (indicators, criteria, next review):\n\n',
  },
};

/** The most a file may hold, as on the platform. */
export const MAX_FILE_BYTES = 25 * 1024 * 1024;

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
  useUnsaved(content.trim() || title.trim() || file ? 'the new document' : null);

  function startFrom(key: string) {
    const t = TEMPLATES[key];
    if (!t) return;
    // Never over what was written: a template only starts an empty note.
    if (content.trim() === '') setContent(t.text);
    if (title.trim() === '') setTitle(`${typeLabel(kind)} (${t.label.split(' ')[0]})`);
  }

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    setDone(null);
    try {
      const name = title.trim() || file?.name || '';
      if (file) {
        if (file.size > MAX_FILE_BYTES) {
          setError({ code: 'invalid', message: `The file holds ${fileSize(file.size)}; a document may hold at most ${fileSize(MAX_FILE_BYTES)}.`, field: 'file' });
          return;
        }
        const base64 = toBase64(new Uint8Array(await file.arrayBuffer()));
        await call('attach_file', {
          file: {
            patient_id: patientId,
            type: kind,
            date,
            title: name,
            mime_type: file.type || 'application/octet-stream',
            base64,
          },
        });
        setDone(status?.online ? `"${name}" was attached; it is being sent.` : `"${name}" was attached here; it is sent when back online.`);
      } else {
        await call('create_document', { document: { patient_id: patientId, type: kind, date, title, content } });
        setDone(status?.online ? `"${name}" was saved.` : `"${name}" was saved here; it is sent when back online.`);
      }
      setTitle('');
      setContent('');
      setFile(null);
      setOpen(false);
    } catch (err) {
      setError(err as AppError);
    }
  }

  const blame = (field: string) => (error?.field === field ? error.message : null);
  return (
    <>
      {done && (
        <p role="status" class="done" id="document-saved">
          {done}
        </p>
      )}
      <details class="panel" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary id="new-document">New document</summary>
        <form onSubmit={submit} class="stack">
          <div class="row-fields">
            <Field label="Type" id="document-type">
              <TypeSelect id="document-type" value={kind} onChange={setKind} />
            </Field>
            <Field label="Date" id="document-date" error={blame('date')}>
              <DateInput id="document-date" required value={date} onChange={setDate} />
            </Field>
          </div>
          <Field label="Title" id="document-title" error={blame('title')}>
            <input id="document-title" maxLength={300} required={!file} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
          </Field>
          <div class="templates" role="group" aria-label="Start from a template">
            <span class="muted">Start from a template:</span>
            {Object.entries(TEMPLATES).map(([key, t]) => (
              <button type="button" key={key} id={`template-${key}`} disabled={!!file || content.trim() !== ''} onClick={() => startFrom(key)}>
                {t.label}
              </button>
            ))}
          </div>
          <Field label="Text" id="document-content" hint="Or attach a file below instead." error={blame('content')}>
            <textarea id="document-content" class="note" rows={16} disabled={!!file} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
          </Field>
          <Field label="File (PDF, image, text)" id="document-file" hint={`Up to ${fileSize(MAX_FILE_BYTES)}; kept on this computer and sent at the next sync.`} error={blame('file')}>
            <input
              id="document-file"
              type="file"
              accept="application/pdf,image/png,image/jpeg,image/gif,image/webp,text/plain"
              onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
            />
          </Field>
          {!atField(error, ['date', 'title', 'content', 'file']) && <ErrorMessage error={error} />}
          <div class="buttons">
            <button type="submit" class="primary" id="save-document">
              {file ? 'Attach file' : 'Save document'}
            </button>
          </div>
        </form>
      </details>
    </>
  );
}
