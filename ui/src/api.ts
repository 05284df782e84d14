// The app's commands (Rust, through Tauri's IPC), typed. Every failure is an AppError with a
// stable code and a sentence for the person.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

// The commands' and events' contract, and every type they carry, are generated from the Rust
// types and signatures (the desktop crate's tests write src/bindings; scripts/test fails when
// they are not current). The names below are the screens' words for them.
import type { Commands, Events } from './bindings/commands';
import type { AppError } from './bindings/AppError';
import type { AppStatus } from './bindings/AppStatus';
import type { Conflict } from './bindings/Conflict';
import type { DocumentFilter } from './bindings/DocumentFilter';
import type { DocumentRow } from './bindings/DocumentRow';
import type { JsonValue } from './bindings/serde_json/JsonValue';
import type { Resolution } from './bindings/Resolution';
import type { DocumentShare } from './bindings/DocumentShare';
import type { DocumentSource } from './bindings/DocumentSource';
import type { DocumentSummary } from './bindings/DocumentSummary';
import type { DocumentType } from './bindings/DocumentType';
import type { DocumentView } from './bindings/DocumentView';
import type { Inquiry } from './bindings/Inquiry';
import type { InquiryNotification } from './bindings/InquiryNotification';
import type { InquiryStatus } from './bindings/InquiryStatus';
import type { LinkApproval } from './bindings/LinkApproval';
import type { LinkReview } from './bindings/LinkReview';
import type { PhpMatch } from './bindings/PhpMatch';
import type { LogAction } from './bindings/LogAction';
import type { LogLine } from './bindings/LogLine';
import type { LogStatus } from './bindings/LogStatus';
import type { NewPatientOutcome } from './bindings/NewPatientOutcome';
import type { PatientPage } from './bindings/PatientPage';
import type { PatientRow } from './bindings/PatientRow';
import type { PatientSummary } from './bindings/PatientSummary';
import type { PatientView } from './bindings/PatientView';
import type { Progress } from './bindings/Progress';
import type { ProviderEntry } from './bindings/ProviderEntry';
import type { Job } from './bindings/Job';
import type { AuditEntry } from './bindings/AuditEntry';
import type { AuthMode } from './bindings/AuthMode';
import type { CarepatronState } from './bindings/CarepatronState';
import type { ConnectionStep } from './bindings/ConnectionStep';
import type { NewProvider } from './bindings/NewProvider';
import type { ProviderSettings } from './bindings/ProviderSettings';
import type { AuditQuery } from './bindings/AuditQuery';
import type { JobKind } from './bindings/JobKind';
import type { JobCause } from './bindings/JobCause';
import type { JobStatus } from './bindings/JobStatus';
import type { PullProgress } from './bindings/PullProgress';
import type { DocumentDigest } from './bindings/DocumentDigest';
import type { RejectedEdit } from './bindings/RejectedEdit';
import type { ShareDelivery } from './bindings/ShareDelivery';
import type { SyncState } from './bindings/SyncState';
import type { Trend } from './bindings/Trend';
import type { TrendPoint } from './bindings/TrendPoint';
import type { UpdateInfo } from './bindings/UpdateInfo';
import type { User } from './bindings/User';
import type { UserDirectoryEntry } from './bindings/UserDirectoryEntry';
import type { UserType } from './bindings/UserType';

export function toAppError(e: unknown): AppError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message, field } = e as { code: unknown; message: unknown; field?: unknown };
    return { code: String(code), message: String(message), ...(typeof field === 'string' ? { field } : {}) };
  }
  return { code: 'unknown', message: typeof e === 'string' ? e : 'Something went wrong.' };
}

/** Arguments of `command`: none, or its table entry's. */
type Args<K extends keyof Commands> = Commands[K]['args'] extends Record<string, never> ? [] : [args: Commands[K]['args']];

/** Invokes a command of the app's table (generated from the Rust signatures). */
export async function call<K extends keyof Commands>(command: K, ...args: Args<K>): Promise<Commands[K]['result']> {
  try {
    return await invoke<Commands[K]['result']>(command, args[0]);
  } catch (e) {
    throw toAppError(e);
  }
}

/** Listens to one of the shell's events, with its payload's type. */
export function on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): Promise<UnlistenFn> {
  return listen<Events[K]>(event, (e) => handler(e.payload));
}

// The generated types under the names the screens use.
export type {
  AppError,
  AuditEntry,
  AuditQuery,
  AuthMode,
  CarepatronState,
  ConnectionStep,
  NewProvider,
  ProviderSettings,
  Conflict,
  DocumentDigest,
  DocumentFilter,
  DocumentSource,
  DocumentSummary,
  DocumentType,
  Inquiry,
  InquiryNotification,
  InquiryStatus,
  JsonValue,
  LinkApproval,
  LinkReview,
  LogAction,
  LogStatus,
  NewPatientOutcome,
  PatientPage,
  PatientSummary,
  PhpMatch,
  Progress,
  ProviderEntry,
  Job,
  JobCause,
  JobKind,
  JobStatus,
  PullProgress,
  RejectedEdit,
  Resolution,
  ShareDelivery,
  SyncState,
  Trend,
  TrendPoint,
  UpdateInfo,
  User,
  UserDirectoryEntry,
  UserType,
};
export type Status = AppStatus;
/** A patient as this computer holds it. */
export type Patient = PatientRow;
/** A patient as its screen shows it. */
export type PatientDetail = PatientView;
/** A document as this computer holds it. */
export type HealthcareDocument = DocumentRow;
/** A document as its own screen shows it. */
export type DocumentDetail = DocumentView;
export type Share = DocumentShare;
export type LogEntry = LogLine;

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
