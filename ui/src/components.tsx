// Small pieces every screen uses.
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { call, DOCUMENT_TYPES, type AppError, type RejectedEdit, type Status, type SyncState } from './api';
import { formatDate, parseDate, typeLabel } from './lib/format';
import { leaveTo } from './lib/route';

export const StatusContext = createContext<Status | null>(null);

export function useStatus(): Status | null {
  return useContext(StatusContext);
}

const BADGE_TEXT: Record<SyncState, string> = {
  synced: 'Synced',
  pending: 'Pending',
  conflict: 'Conflict',
  error: 'Error',
};

export function Badge({ state }: { state: SyncState }) {
  return (
    <span class={`badge badge-${state}`} data-sync-state={state} title={`Sync state: ${BADGE_TEXT[state]}`}>
      {BADGE_TEXT[state]}
    </span>
  );
}

/** Whether `error` is shown at one of `fields` (else it belongs in a general message). */
export function atField(error: AppError | null, fields: readonly string[]): boolean {
  return !!error?.field && fields.includes(error.field);
}

export function ErrorMessage({ error }: { error: AppError | null }) {
  if (!error) return null;
  return (
    <p class="error" role="alert" data-code={error.code}>
      {error.message}
    </p>
  );
}

export function Field(props: {
  label: string;
  id: string;
  children: ComponentChildren;
  hint?: string;
  /** Why the value was refused (shown under the field, tied to it for screen readers). */
  error?: string | null;
}) {
  return (
    <div class={`field${props.error ? ' invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small id={`${props.id}-hint`}>{props.hint}</small>}
      {props.error && (
        <small class="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

/**
 * A date field in the app's one format ("12 Apr 1978"), typed rather than picked: the
 * webview's own date input shows a greyed today in an empty field and follows no format we
 * choose. `value` and `onChange` speak `YYYY-MM-DD` (`''` for empty); what cannot be read as
 * a date is flagged at once and never passed on.
 */
export function DateInput(props: {
  id: string;
  value: string | null | undefined;
  onChange: (iso: string) => void;
  required?: boolean;
  class?: string;
  label?: string;
}) {
  const [text, setText] = useState(formatDate(props.value));
  const [shown, setShown] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const iso = parseDate(text);
  const example = formatDate('1978-04-12');
  // A new value from outside (a sync, a reset) replaces the text, unless the text already
  // reads as that value (what was just typed).
  useEffect(() => {
    if (parseDate(text) !== (props.value ?? '')) setText(formatDate(props.value));
  }, [props.value]);
  // Unreadable text blocks the form's submit (the browser's own validation), so a half-typed
  // date is never saved as the previous one.
  useEffect(() => {
    input.current?.setCustomValidity(iso === null ? `Write the date like ${example}.` : '');
  }, [iso]);
  const bad = iso === null && shown;
  return (
    <>
      <input
        ref={input}
        id={props.id}
        class={props.class}
        type="text"
        autoComplete="off"
        placeholder={`e.g. ${example}`}
        aria-label={props.label}
        aria-invalid={bad || undefined}
        aria-describedby={bad ? `${props.id}-format` : undefined}
        required={props.required}
        value={text}
        onInput={(e) => {
          const t = e.currentTarget.value;
          setText(t);
          const read = parseDate(t);
          if (read !== null) props.onChange(read);
        }}
        onInvalid={() => setShown(true)}
        onBlur={() => {
          setShown(true);
          if (iso) setText(formatDate(iso));
        }}
      />
      {bad && (
        <small class="field-error" id={`${props.id}-format`}>
          Write the date like {example}.
        </small>
      )}
    </>
  );
}

export function Page(props: {
  title: string;
  /** Where this page sits: `[href, label]` pairs, outermost first. */
  breadcrumb?: [string, string][];
  /** A line under the title (a patient's birth date and age, a document's patient). */
  subtitle?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="page" aria-labelledby="page-title">
      {props.breadcrumb && (
        <nav aria-label="Breadcrumb" class="breadcrumb">
          <ol>
            {props.breadcrumb.map(([href, label]) => (
              <li key={href}>
                <a href={href}>{label}</a>
              </li>
            ))}
            <li aria-current="page">{props.title}</li>
          </ol>
        </nav>
      )}
      <header class="page-header">
        <div>
          <h1 id="page-title" tabIndex={-1}>
            {props.title}
          </h1>
          {props.subtitle && <p class="subtitle" id="page-subtitle">{props.subtitle}</p>}
        </div>
        {props.actions && <div class="actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

/** A destructive action asked twice, in the page (native dialogs block the webview). */
export function ConfirmButton(props: { label: string; question: string; confirm: string; onConfirm: () => void; id?: string }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger" id={props.id} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm" role="alertdialog" aria-label={props.question}>
      <span>{props.question}</span>
      <button type="button" class="danger" onClick={() => { setAsking(false); props.onConfirm(); }}>
        {props.confirm}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** The document types, in words; `any` adds a first choice for "no type" (a filter's). */
export function TypeSelect(props: { id: string; value: string; onChange: (type: string) => void; any?: string }) {
  return (
    <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
      {props.any && <option value="">{props.any}</option>}
      {DOCUMENT_TYPES.map((t) => (
        <option key={t} value={t}>
          {typeLabel(t)}
        </option>
      ))}
    </select>
  );
}

/**
 * A record the platform refused to create: why, what to do (`children`), and Discard, which
 * removes it from this computer and goes to `after`.
 */
export function RefusedCreation(props: { refusal: RejectedEdit; what: 'patient' | 'document'; question: string; after: string; children?: ComponentChildren }) {
  const [error, setError] = useState<AppError | null>(null);
  async function discard() {
    try {
      await call('dismiss_rejected', { mutation_id: props.refusal.mutation_id });
      leaveTo(props.after);
    } catch (err) {
      setError(err as AppError);
    }
  }
  return (
    <div class="warning" role="alert" id="refusal-banner">
      <p>
        <strong>This {props.what} has not reached the platform.</strong> It was refused: {props.refusal.reason}.
      </p>
      {props.children}
      <ConfirmButton label={`Discard this ${props.what}`} question={props.question} confirm="Discard" onConfirm={discard} id={`discard-${props.what}`} />
      <ErrorMessage error={error} />
    </div>
  );
}

/**
 * Which of a list's states to show, as pressed buttons (`{name}-{state}` ids), and Refresh
 * (`{name}-refresh`), which needs a connection: the admin screens' lists kept on the platform.
 */
export function StateChoices<T extends string>(props: {
  name: string;
  label: string;
  choices: [T, string][];
  value: T;
  onChoose: (state: T) => void;
  onRefresh: () => void;
  online: boolean;
}) {
  return (
    <div class="choices" role="group" aria-label={props.label}>
      {props.choices.map(([s, label]) => (
        <button key={s} type="button" aria-pressed={props.value === s} onClick={() => props.onChoose(s)} id={`${props.name}-${s}`}>
          {label}
        </button>
      ))}
      <button type="button" id={`${props.name}-refresh`} disabled={!props.online} onClick={props.onRefresh}>
        Refresh
      </button>
    </div>
  );
}
