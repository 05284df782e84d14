import { useEffect, useState } from 'preact/hooks';
import { call, type AppError, type DocumentDetail, type DocumentType, type HealthcareDocument, type Share, type ShareDelivery, type UserDirectoryEntry } from '../api';
import { atField, ConfirmButton, DateInput, ErrorMessage, Field, Page, RefusedCreation, TypeSelect, useStatus } from '../components';
import { birthWithAge, fileSize, formatDate, fromBase64, sourceLabel, typeLabel } from '../lib/format';
import { guarded, leaveTo, useUnsaved } from '../lib/route';

export function DocumentView({ id }: { id: string }) {
  const status = useStatus();
  const [doc, setDoc] = useState<DocumentDetail | null>(null);
  const [url, setUrl] = useState<string | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [mime, setMime] = useState('');
  const [error, setError] = useState<AppError | null>(null);
  const [bodyError, setBodyError] = useState<AppError | null>(null);
  const [editing, setEditing] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  // Bumped after an edit: the body is read again (the text just saved, not the old one).
  const [revision, setRevision] = useState(0);

  useEffect(() => {
    call('document', { id }).then(setDoc, setError);
  }, [id, status?.last_sync, status?.pending, status?.rejected]);

  useEffect(() => {
    let objectUrl: string | null = null;
    call('document_body', { id }).then(
      (body) => {
        setBodyError(null);
        setMime(body.mime_type);
        const bytes = fromBase64(body.base64);
        setText(body.mime_type.startsWith('text/') ? new TextDecoder().decode(bytes) : null);
        objectUrl = URL.createObjectURL(new Blob([bytes as BlobPart], { type: body.mime_type }));
        setUrl(objectUrl);
      },
      setBodyError,
    );
    return () => {
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [id, status?.online, revision]);

  if (!doc) return <Page title="Document"><ErrorMessage error={error} /></Page>;
  const patient = doc.patient_name ?? 'A patient not on this computer';
  const refusedCreation = doc.refusals.find((r) => r.op === 'insert');

  async function remove() {
    try {
      await call('delete_document', { id });
      leaveTo(`/patients/${doc!.patient_id}`);
    } catch (err) {
      setError(err as AppError);
    }
  }


  async function download() {
    setError(null);
    setNotice(null);
    try {
      const where = await call('save_document', { id, file_name: downloadName(doc!, mime) });
      if (where) setNotice(`Saved to ${where}`);
    } catch (err) {
      setError(err as AppError);
    }
  }

  return (
    <Page
      title={doc.title}
      breadcrumb={[
        ['#/patients', 'Patients'],
        [`#/patients/${doc.patient_id}`, patient],
      ]}
      subtitle={
        <>
          {typeLabel(doc.type)} for <a href={`#/patients/${doc.patient_id}`} id="document-patient">{patient}</a>
          {doc.patient_birth_date && <>, born {birthWithAge(doc.patient_birth_date)}</>}
        </>
      }
      actions={
        <>
          {url && (
            <button type="button" id="download" onClick={download}>
              Download…
            </button>
          )}
          {doc.can.edit && (
            <button type="button" id="edit-document" onClick={() => (editing ? guarded(() => setEditing(false)) : setEditing(true))}>
              {editing ? 'Close editor' : 'Edit'}
            </button>
          )}
          {doc.can.delete && !refusedCreation && (
            <ConfirmButton label="Delete" question="Delete this document?" confirm="Delete" onConfirm={remove} id="delete-document" />
          )}
        </>
      }
    >
      {notice && (
        <p role="status" class="done" id="download-result">
          {notice}
        </p>
      )}
      {refusedCreation && (
        <RefusedCreation
          refusal={refusedCreation}
          what="document"
          question="Remove this document from this computer?"
          after={`/patients/${doc.patient_id}`}
        />
      )}
      <dl class="meta">
        <dt>Patient</dt>
        <dd>{patient}</dd>
        <dt>Type</dt>
        <dd>{typeLabel(doc.type)}</dd>
        <dt>Date</dt>
        <dd>{formatDate(doc.date)}</dd>
        <dt>Source</dt>
        <dd>{sourceLabel(doc.source, doc.source_user_id === status?.user?.id, doc.mime_type)}</dd>
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
      </dl>
      <ErrorMessage error={error} />
      {editing && (
        <EditDocument
          doc={doc}
          text={text}
          onSaved={(d) => {
            setDoc(d);
            setEditing(false);
            setRevision((r) => r + 1);
            setNotice('Document saved.');
          }}
        />
      )}
      <Viewer mime={mime} url={url} text={text} error={bodyError} />
      {doc.can.share && doc.source && <Share documentId={id} />}
    </Page>
  );
}

/** The file name a download suggests: the title, made safe, with the type's extension. */
export function downloadName(doc: HealthcareDocument, mime: string): string {
  const ext = { 'application/pdf': 'pdf', 'image/png': 'png', 'image/jpeg': 'jpg', 'text/plain': 'txt', 'text/markdown': 'md', 'text/html': 'html' }[mime] ?? 'bin';
  return `${doc.title.replace(/[^\w\- ]+/g, '_').slice(0, 80)}.${ext}`;
}

export function Viewer({ mime, url, text, error }: { mime: string; url: string | null; text: string | null; error: AppError | null }) {
  if (error) {
    return (
      <p class="warning" role="status">
        {error.code === 'offline' ? 'This document has not been opened on this computer yet; it can be read once online.' : error.message}
      </p>
    );
  }
  if (!url) return <p class="muted">Loading…</p>;
  if (text !== null) return <pre class="doc-text" id="document-text">{text}</pre>;
  // Sandboxed: the frame may not navigate the app, open windows, submit forms, show dialogs or
  // start downloads. WebKitGTK's PDF viewer (PDF.js, in the frame) renders nothing without
  // scripts and the blob's own origin, so those two stay (the Viewer test pins the list).
  if (mime === 'application/pdf') {
    return <iframe class="doc-frame" src={url} sandbox="allow-scripts allow-same-origin" title="Document (PDF)" />;
  }
  if (mime.startsWith('image/')) return <img class="doc-image" src={url} alt="The document" />;
  return <p>This type of file cannot be shown here: download it to open it.</p>;
}

function EditDocument(props: { doc: DocumentDetail; text: string | null; onSaved: (d: DocumentDetail) => void }) {
  // What the editor opened with: only what the person changed from it is sent (a sync that
  // refreshes the page meanwhile must not make its old values look like edits).
  const [doc] = useState(props.doc);
  const [text] = useState(props.text);
  const onSaved = props.onSaved;
  const [title, setTitle] = useState(doc.title);
  const [kind, setKind] = useState(doc.type);
  const [date, setDate] = useState(doc.date);
  const [content, setContent] = useState(text ?? '');
  const [error, setError] = useState<AppError | null>(null);

  const fields: Record<string, string> = {};
  if (title !== doc.title) fields.title = title;
  if (kind !== doc.type) fields.type = kind;
  if (date !== doc.date) fields.date = date;
  if (text !== null && content !== text) fields.content = content;
  useUnsaved(Object.keys(fields).length > 0 ? `your changes to "${doc.title}"` : null);

  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await call('update_document', { id: doc.id, fields });
      onSaved(await call('document', { id: doc.id }));
    } catch (err) {
      setError(err as AppError);
    }
  }

  const blame = (field: string) => (error?.field === field ? error.message : null);
  return (
    <form class="panel stack" onSubmit={save} id="edit-form">
      <Field label="Title" id="edit-title" error={blame('title')}>
        <input id="edit-title" required maxLength={300} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </Field>
      <div class="row-fields">
        <Field label="Type" id="edit-type" error={blame('type')}>
          {/* The select offers the document types only (no "any"). */}
          <TypeSelect id="edit-type" value={kind} onChange={(t) => setKind(t as DocumentType)} />
        </Field>
        <Field label="Date" id="edit-date" error={blame('date')}>
          <DateInput id="edit-date" required value={date} onChange={setDate} />
        </Field>
      </div>
      {text !== null && (
        <Field label="Text" id="edit-content" error={blame('content')}>
          <textarea id="edit-content" class="note" rows={16} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
        </Field>
      )}
      {!atField(error, ['title', 'type', 'date', 'content']) && <ErrorMessage error={error} />}
      <div class="buttons">
        <button type="submit" class="primary" id="save-document-edit">
          Save document
        </button>
      </div>
    </form>
  );
}

/** Whether a share reached the practice's Carepatron workspace, in words. */
export function deliveryLabel(state: ShareDelivery | undefined): string {
  switch (state) {
    case 'delivered':
      return 'In Carepatron';
    case 'not_on_team':
      return "Not in Carepatron: they are not on the practice's Carepatron team under their email address";
    case 'failed':
      return 'Not in Carepatron yet: sending failed, it will be tried again';
    case 'not_configured':
      return 'Shared here (the practice does not use Carepatron)';
    default:
      return 'Being sent to Carepatron';
  }
}

function Share({ documentId }: { documentId: string }) {
  const status = useStatus();
  const [people, setPeople] = useState<UserDirectoryEntry[]>([]);
  const [shares, setShares] = useState<Share[]>([]);
  const [choice, setChoice] = useState('');
  const [error, setError] = useState<AppError | null>(null);

  const load = () => {
    call('practitioners').then(setPeople, setError);
    call('shares', { document_id: documentId }).then(setShares, setError);
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
        <ul class="shares">
          {shares.map((s) => (
            <li key={s.id} data-delivery={s.carepatron_delivery ?? 'pending'}>
              <span>{name(s.practitioner_id)}</span>{' '}
              <span class={`delivery delivery-${s.carepatron_delivery ?? 'pending'}`}>{deliveryLabel(s.carepatron_delivery)}</span>{' '}
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
