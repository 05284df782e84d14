// The app's commands (Rust, through Tauri's IPC), typed. Every failure is an AppError with a
// stable code and a sentence for the person.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export interface AppError {
  code: string;
  message: string;
  /** The form field to blame, as the platform names it (`email`, `birth_date`). */
  field?: string;
}

export function toAppError(e: unknown): AppError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message, field } = e as { code: unknown; message: unknown; field?: unknown };
    return { code: String(code), message: String(message), ...(typeof field === 'string' ? { field } : {}) };
  }
  return { code: 'unknown', message: typeof e === 'string' ? e : 'Something went wrong.' };
}

export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toAppError(e);
  }
}

export function on<T>(event: string, handler: (payload: T) => void): Promise<UnlistenFn> {
  return listen<T>(event, (e) => handler(e.payload));
}

export type SyncState = 'synced' | 'pending' | 'conflict' | 'error';

// The platform's vocabularies, generated from the Rust types (domain's tests write
// src/bindings; scripts/test fails when they are not current).
import type { DocumentSource } from './bindings/DocumentSource';
import type { DocumentType } from './bindings/DocumentType';
import type { LinkApproval } from './bindings/LinkApproval';
import type { LogAction } from './bindings/LogAction';
import type { LogStatus } from './bindings/LogStatus';
import type { ShareDelivery } from './bindings/ShareDelivery';
import type { UserType } from './bindings/UserType';
export type { DocumentSource, DocumentType, LinkApproval, LogAction, LogStatus, ShareDelivery, UserType };

export interface User {
  id: string;
  email: string;
  name: string;
  type: UserType;
  provider_id?: string | null;
  patient_id?: string | null;
}

/** What the shell offers the signed-in user (from the platform's own rules). */
export interface Capabilities {
  create_patients: boolean;
  manage_users: boolean;
  create_user_types: UserType[];
}

/** What may be done to one patient. */
export interface PatientActions {
  edit: boolean;
  delete: boolean;
  add_documents: boolean;
  request_documents: boolean;
}

/** What may be done to one document. */
export interface DocumentActions {
  edit: boolean;
  delete: boolean;
  share: boolean;
}

export interface Status {
  signed_in: boolean;
  server: string | null;
  user: User | null;
  online: boolean;
  syncing: boolean;
  pending: number;
  conflicts: number;
  rejected: number;
  last_sync: string | null;
  default_server: string;
  notice: string | null;
  can: Capabilities;
}

export type Progress =
  | { phase: 'started' }
  | { phase: 'pushed'; done: number; total: number }
  | { phase: 'pulled'; rows: number }
  | {
      phase: 'finished';
      pushed: number;
      pulled: number;
      conflicts: number;
      rejected: number;
      new_documents: number;
    }
  | { phase: 'failed'; code: string; message: string };

export interface PatientSummary {
  id: string;
  name: string;
  email: string;
  birth_date: string | null;
  sync_state: SyncState;
}

export interface PatientPage {
  total: number;
  offset: number;
  items: PatientSummary[];
}

export interface Patient {
  id: string;
  user_id?: string;
  name: string;
  email: string;
  contact_details?: string | null;
  medical_history?: string | null;
  dietary_preferences?: string | null;
  birth_date?: string | null;
  provider_id?: string | null;
  provider_patient_identifier?: string | null;
  /** Whether the link to the provider may be used (set by the platform); null without one. */
  link_approval?: LinkApproval | null;
  sync_error?: string | null;
  version?: number;
}

export interface PatientDetail {
  patient: Patient;
  sync_state: SyncState;
  conflicted_fields: string[];
  /** Deleted here, changed on the platform since: back until the person decides. */
  deletion_in_question: boolean;
  can: PatientActions;
  /** Edits of it the platform refused, not dealt with yet. */
  refusals: RejectedEdit[];
}

export type NewPatientOutcome =
  | { outcome: 'created'; id: string }
  | { outcome: 'duplicate'; existing_id: string; name: string };

/** Every document type, in the order forms offer them: a type the platform adds and this list
 * leaves out fails the type check. */
const TYPE_ORDER: Record<DocumentType, number> = {
  'lab report': 0,
  'progress note': 1,
  'physical assessment': 2,
  'dietary assessment': 3,
  'imaging report': 4,
  'discharge summary': 5,
  'referral letter': 6,
  other: 7,
};
export const DOCUMENT_TYPES = (Object.keys(TYPE_ORDER) as DocumentType[]).sort((a, b) => TYPE_ORDER[a] - TYPE_ORDER[b]);

export interface HealthcareDocument {
  id: string;
  patient_id: string;
  type: DocumentType;
  date: string;
  title: string;
  author?: string | null;
  content?: string;
  mime_type?: string;
  size_bytes?: number;
  source?: DocumentSource;
  source_user_id?: string | null;
  sync_state?: SyncState;
  patient_name?: string | null;
  patient_birth_date?: string | null;
}

/** A document as its own screen shows it. */
export interface DocumentDetail extends HealthcareDocument {
  can: DocumentActions;
  refusals: RejectedEdit[];
}

export interface Share {
  id: string;
  practitioner_id: string;
  carepatron_delivery?: ShareDelivery;
}

export interface DocumentFilter {
  patient_id?: string;
  type?: string;
  from?: string;
  to?: string;
  text?: string;
}

/**
 * `fields`: both sides wrote `field`. `edited_on_server`: deleted here, changed on the
 * platform since. `deleted_on_server`: changed here, deleted on the platform since (`mine`
 * is the record as changed here).
 */
export type ConflictKind = 'fields' | 'edited_on_server' | 'deleted_on_server';

export interface Conflict {
  id: number;
  table: string;
  row_id: string;
  kind: ConflictKind;
  label: string;
  field: string;
  mine: unknown;
  theirs: unknown;
}

export interface RejectedEdit {
  mutation_id: string;
  table: string;
  row_id: string;
  op: string;
  fields: Record<string, unknown>;
  code: string;
  reason: string;
  created_at: string;
}

export interface LogEntry {
  id: string;
  patient_id: string | null;
  document_id: string | null;
  /** The platform's actions, and this computer's own refused changes. */
  action: LogAction | 'offline edit';
  timestamp: string;
  status: LogStatus;
  details: string | null;
  /** Names as this computer knows them (null when it does not hold the record). */
  patient_name: string | null;
  user_name: string | null;
}

export interface UpdateInfo {
  current_version: string;
  version: string | null;
  notes: string | null;
  date: string | null;
}
