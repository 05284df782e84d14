import { useEffect, useState } from 'preact/hooks';
import { call, DOCUMENT_TYPES, type AppError, type HealthcareDocument, type User } from '../api';
import { ConfirmButton, ErrorMessage, Field, Page, useStatus } from '../components';
import { fileSize, fromBase64 } from '../lib/format';
import { navigate } from '../lib/route';

interface Body {
  mime_type: string;
  base64: string;
}

export function DocumentView({ id }: { id: string }) {
  const status = useStatus();
  const [doc, setDoc] = useState<HealthcareDocument | null>(null);
  const [url, setUrl] = useState<string | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [mime, setMime] = useState('');
  const [error, setError] = useState<AppError | null>(null);
  const [bodyError, setBodyError] = useState<AppError | null>(null);
  const [editing, setEditing] = useState(false);

  useEffect(() => {
    call<HealthcareDocument>('document', { id }).then(setDoc, setError);
  }, [id, status?.last_sync]);

  useEffect(() => {
    let objectUrl: string | null = null;
    call<Body>('document_body', { id }).then(
      (body) => {
        setBodyError(null);
        setMime(body.mime_type);
        const bytes = fromBase64(body.base64);
        if (body.mime_type.startsWith('text/')) setText(new TextDecoder().decode(bytes));
        objectUrl = URL.createObjectURL(new Blob([bytes as BlobPart], { type: body.mime_type }));
        setUrl(objectUrl);
      },
      setBodyError,
    );
    return () => {
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [id, status?.online]);

  if (!doc) return <Page title="Document"><ErrorMessage error={error} /></Page>;
  // Written here and not yet sent (no source yet), or uploaded by this user.
  const editable = doc.source == null || (doc.source === 'Dietician' && doc.source_user_id === status?.user?.id);

  async function remove() {
    try {
      await call('delete_document', { id });
      navigate(`/patients/${doc!.patient_id}`);
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <Page
      title={doc.title}
      actions={
        <>
          {url && (
            <a class="button" href={url} download={downloadName(doc, mime)} id="download">
              Download
            </a>
          )}
          {editable && (
            <>
              <button type="button" onClick={() => setEditing(!editing)}>
                {editing ? 'Close editor' : 'Edit'}
              </button>
              <ConfirmButton label="Delete" question="Delete this document?" confirm="Delete" onConfirm={remove} />
            </>
          )}
        </>
      }
    >
      <dl class="meta">
        <dt>Type</dt>
        <dd>{doc.type}</dd>
        <dt>Date</dt>
        <dd>{doc.date}</dd>
        <dt>Source</dt>
        <dd>{doc.source ?? 'Written here (not yet sent)'}</dd>
        {doc.author && (
          <>
            <dt>Author</dt>
            <dd>{doc.author}</dd>
          </>
        )}
        {doc.size_bytes != null && (
          <>
            <dt>Size</dt>
            <dd>{fileSize(doc.size_bytes)}</dd>
          </>
        )}
        <dt>Patient</dt>
        <dd>
          <a href={`#/patients/${doc.patient_id}`}>Open patient</a>
        </dd>
      </dl>
      <ErrorMessage error={error} />
      {editing && <EditDocument doc={doc} text={text} onSaved={(d) => { setDoc(d); setEditing(false); }} />}
      <Viewer mime={mime} url={url} text={text} error={bodyError} />
      {status?.user?.type === 'dietician' && doc.source && <Share documentId={id} />}
    </Page>
  );
}

function downloadName(doc: HealthcareDocument, mime: string): string {
  const ext = { 'application/pdf': 'pdf', 'image/png': 'png', 'image/jpeg': 'jpg', 'text/plain': 'txt', 'text/markdown': 'md', 'text/html': 'html' }[mime] ?? 'bin';
  return `${doc.title.replace(/[^\w\- ]+/g, '_').slice(0, 80)}.${ext}`;
}

function Viewer({ mime, url, text, error }: { mime: string; url: string | null; text: string | null; error: AppError | null }) {
  if (error) {
    return (
      <p class="warning" role="status">
        {error.code === 'offline' ? 'This document has not been opened on this computer yet; it can be read once online.' : error.message}
      </p>
    );
  }
  if (!url) return <p class="muted">Loading…</p>;
  if (text !== null) return <pre class="doc-text" id="document-text">{text}</pre>;
  if (mime === 'application/pdf') return <iframe class="doc-frame" src={url} title="Document (PDF)" />;
  if (mime.startsWith('image/')) return <img class="doc-image" src={url} alt="The document" />;
  return <p>This type of file cannot be shown here: download it to open it.</p>;
}

function EditDocument({ doc, text, onSaved }: { doc: HealthcareDocument; text: string | null; onSaved: (d: HealthcareDocument) => void }) {
  const [title, setTitle] = useState(doc.title);
  const [kind, setKind] = useState(doc.type);
  const [date, setDate] = useState(doc.date);
  const [content, setContent] = useState(text ?? '');
  const [error, setError] = useState<AppError | null>(null);

  async function save(e: Event) {
    e.preventDefault();
    const fields: Record<string, string> = {};
    if (title !== doc.title) fields.title = title;
    if (kind !== doc.type) fields.type = kind;
    if (date !== doc.date) fields.date = date;
    if (text !== null && content !== text) fields.content = content;
    try {
      await call('update_document', { id: doc.id, fields });
      onSaved(await call<HealthcareDocument>('document', { id: doc.id }));
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <form class="panel form-grid" onSubmit={save}>
      <Field label="Title" id="edit-title">
        <input id="edit-title" required maxLength={300} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </Field>
      <Field label="Type" id="edit-type">
        <select id="edit-type" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
          {DOCUMENT_TYPES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </Field>
      <Field label="Date" id="edit-date">
        <input id="edit-date" type="date" required value={date} onInput={(e) => setDate(e.currentTarget.value)} />
      </Field>
      {text !== null && (
        <Field label="Text" id="edit-content">
          <textarea id="edit-content" rows={8} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
        </Field>
      )}
      <ErrorMessage error={error} />
      <button type="submit" class="primary">
        Save document
      </button>
    </form>
  );
}

interface Share {
  id: string;
  practitioner_id: string;
}

function Share({ documentId }: { documentId: string }) {
  const status = useStatus();
  const [people, setPeople] = useState<User[]>([]);
  const [shares, setShares] = useState<Share[]>([]);
  const [choice, setChoice] = useState('');
  const [error, setError] = useState<AppError | null>(null);

  const load = () => {
    call<User[]>('practitioners').then(setPeople, setError);
    call<Share[]>('shares', { document_id: documentId }).then(setShares, setError);
  };
  useEffect(load, [documentId, status?.last_sync]);

  async function share(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await call('share_document', { document_id: documentId, practitioner_id: choice });
      setChoice('');
      load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  async function revoke(shareId: string) {
    try {
      await call('revoke_share', { document_id: documentId, share_id: shareId });
      load();
    } catch (err) {
      setError(err as AppError);
    }
  }

  const name = (id: string) => people.find((p) => p.id === id)?.name ?? 'a practitioner';
  return (
    <section class="panel" aria-labelledby="share-title">
      <h2 id="share-title">Shared with</h2>
      {shares.length === 0 ? (
        <p class="muted">Nobody yet.</p>
      ) : (
        <ul>
          {shares.map((s) => (
            <li key={s.id}>
              {name(s.practitioner_id)}{' '}
              <button type="button" class="link" onClick={() => revoke(s.id)} disabled={!status?.online}>
                Stop sharing
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={share} class="inline">
        <label for="share-with">Share with</label>
        <select id="share-with" value={choice} onChange={(e) => setChoice(e.currentTarget.value)} required>
          <option value="">Choose a practitioner…</option>
          {people
            .filter((p) => !shares.some((s) => s.practitioner_id === p.id))
            .map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
        </select>
        <button type="submit" disabled={!choice || !status?.online}>
          Share
        </button>
        {!status?.online && <span class="muted">Sharing needs a connection.</span>}
      </form>
      <ErrorMessage error={error} />
    </section>
  );
}
