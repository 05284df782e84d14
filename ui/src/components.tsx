// Small pieces every screen uses.
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useState } from 'preact/hooks';
import type { AppError, Status, SyncState } from './api';

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
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small id={`${props.id}-hint`}>{props.hint}</small>}
    </div>
  );
}

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title" tabIndex={-1}>
          {props.title}
        </h1>
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
