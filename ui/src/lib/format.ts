// How values read on screen.

export function fileSize(bytes: number | undefined | null): string {
  if (bytes == null || !Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** "3 minutes ago", "yesterday"…, for the last sync. */
export function ago(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return 'never';
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return 'never';
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  const days = Math.round(hours / 24);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A conflicting value as text (null reads as "(empty)"). */
export function showValue(v: unknown): string {
  if (v === null || v === undefined || v === '') return '(empty)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export const FIELD_LABELS: Record<string, string> = {
  name: 'Name',
  email: 'Email',
  contact_details: 'Contact details',
  medical_history: 'Medical history',
  dietary_preferences: 'Dietary preferences',
  birth_date: 'Birth date',
  provider_id: 'Primary Healthcare Provider',
  provider_patient_identifier: "ID at the provider",
  title: 'Title',
  type: 'Type',
  date: 'Date',
  content: 'Text',
};

/**
 * One date format across the app: day, short month name, year, in the system's language and
 * order ("12 Apr 1978", "Apr 12, 1978"): unambiguous whatever the reader's habits. `iso` is
 * `YYYY-MM-DD` (a calendar day, no time zone).
 */
export function formatDate(iso: string | null | undefined, locale?: string): string {
  const d = parseIso(iso);
  if (!d) return '';
  return new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(d);
}

/** A moment (RFC 3339) as the date format plus the time to the second, in local time. */
export function formatDateTime(rfc3339: string | null | undefined, locale?: string): string {
  if (!rfc3339) return '';
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(locale, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(d);
}

function parseIso(iso: string | null | undefined): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso ?? '');
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCMonth() === Number(m[2]) - 1 ? d : null;
}

/** Whole years from a birth date (`YYYY-MM-DD`) to `now`; null when unknown or in the future. */
export function age(birth: string | null | undefined, now: Date = new Date()): number | null {
  const d = parseIso(birth);
  if (!d) return null;
  let years = now.getFullYear() - d.getUTCFullYear();
  const before = now.getMonth() < d.getUTCMonth() || (now.getMonth() === d.getUTCMonth() && now.getDate() < d.getUTCDate());
  if (before) years--;
  return years >= 0 ? years : null;
}

/** "12 Apr 1978 (47)": a birth date with the age beside it. */
export function birthWithAge(birth: string | null | undefined, now?: Date): string {
  const shown = formatDate(birth);
  if (!shown) return '';
  const years = age(birth, now);
  return years === null ? shown : `${shown} (${years})`;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * What a person typed in a date field, as `YYYY-MM-DD`: the app's own format ("12 Apr 1978",
 * "12 April 1978", "Apr 12, 1978", in English or the system's language) or ISO. Numeric
 * forms like 12/04/1978 are refused: whether the day or the month comes first depends on who
 * typed it. `''` for an empty field, `null` when it is not a date.
 */
export function parseDate(text: string, locale?: string): string | null {
  const t = text.trim().toLowerCase().replace(/[.,]/g, ' ').replace(/\s+/g, ' ');
  if (t === '') return '';
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(t);
  if (iso) return checked(Number(iso[1]), Number(iso[2]), Number(iso[3]));
  const names = monthNames(locale);
  const month = (word: string) => {
    const i = names.findIndex((n) => n.some((m) => m.length >= 3 && (m.startsWith(word) || word.startsWith(m)) && word.length >= 3));
    return i < 0 ? null : i + 1;
  };
  const dmy = /^(\d{1,2}) ([^\d\s]+) (\d{4})$/.exec(t);
  if (dmy) {
    const m = month(dmy[2]);
    return m ? checked(Number(dmy[3]), m, Number(dmy[1])) : null;
  }
  const mdy = /^([^\d\s]+) (\d{1,2}) (\d{4})$/.exec(t);
  if (mdy) {
    const m = month(mdy[1]);
    return m ? checked(Number(mdy[3]), m, Number(mdy[2])) : null;
  }
  return null;
}

function checked(y: number, m: number, d: number): string | null {
  const pad = (n: number) => String(n).padStart(2, '0');
  const iso = `${y}-${pad(m)}-${pad(d)}`;
  return parseIso(iso) ? iso : null;
}

/** Each month's names (English short and long, the locale's short and long), lower case. */
function monthNames(locale?: string): string[][] {
  const long = (fmt: Intl.DateTimeFormat, i: number) => fmt.format(new Date(Date.UTC(2000, i, 1))).toLowerCase().replace(/\./g, '');
  const fmts = [
    new Intl.DateTimeFormat(locale, { month: 'short', timeZone: 'UTC' }),
    new Intl.DateTimeFormat(locale, { month: 'long', timeZone: 'UTC' }),
    new Intl.DateTimeFormat('en', { month: 'long', timeZone: 'UTC' }),
  ];
  return MONTHS.map((en, i) => [en, ...fmts.map((f) => long(f, i))]);
}

/** A document type as a heading or option reads ("Lab report"). */
export function typeLabel(type: string): string {
  return type.charAt(0).toUpperCase() + type.slice(1);
}

/** Where a document came from, in a dietician's words (`mime`: a file's type, for one made here). */
export function sourceLabel(source: string | null | undefined, mine: boolean, mime?: string | null): string {
  switch (source) {
    case null:
    case undefined:
      return mime && !mime.startsWith('text/') ? 'Attached on this computer (not sent yet)' : 'Written on this computer (not sent yet)';
    case 'Primary Healthcare Provider':
      return "From the patient's healthcare provider";
    case 'Carepatron':
      return 'From Carepatron';
    case 'Dietician':
      return mine ? 'Written or added by you' : 'Added by their dietician';
    default:
      return source;
  }
}

export function today(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Bytes of a base64 string. */
export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A file's bytes as base64 (for the upload command). */
export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    bin += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(bin);
}
