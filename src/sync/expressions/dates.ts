/**
 * Dates as Entra's expression functions see them: parsed from the common directory and HR
 * formats, from .NET custom format strings, and written as .NET custom format strings.
 * All arithmetic is in UTC; a value without an offset is read as UTC.
 */

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function utc(
  y: number,
  mo: number,
  d: number,
  h = 0,
  mi = 0,
  s = 0,
  ms = 0,
  offsetMin = 0,
): Date | null {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const check = new Date(t);
  if (check.getUTCDate() !== d) return null; // 31 February
  if (y < 100) check.setUTCFullYear(y);
  return new Date(check.getTime() - offsetMin * 60_000);
}

function offsetMinutes(tz: string | undefined): number {
  if (!tz || tz === 'Z' || tz === 'z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(tz);
  if (!m) return 0;
  const v = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return m[1] === '-' ? -v : v;
}

function fraction(f: string | undefined): number {
  if (!f) return 0;
  return Math.floor(Number(`0.${f}`) * 1000);
}

/**
 * Reads the date texts directory and HR sources carry: ISO 8601 (with or without time, with
 * an offset even on a date alone, as Workday sends `2020-03-16-07:00`), Entra's own
 * `M/d/yyyy h:mm:ss tt`, and LDAP generalized time `yyyyMMddHHmmss[.f]Z`. Null when the text
 * is none of them.
 */
export function parseDate(text: string): Date | null {
  const s = text.trim();
  let m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/.exec(
      s,
    );
  if (m) {
    return utc(
      Number(m[1]),
      Number(m[2]),
      Number(m[3]),
      Number(m[4] ?? 0),
      Number(m[5] ?? 0),
      Number(m[6] ?? 0),
      fraction(m[7]),
      offsetMinutes(m[8]),
    );
  }
  m =
    /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(
      s,
    );
  if (m) {
    let h = Number(m[4] ?? 0);
    const ampm = m[7]?.toUpperCase();
    if (ampm) {
      if (h < 1 || h > 12) return null;
      if (ampm === 'AM' && h === 12) h = 0;
      if (ampm === 'PM' && h !== 12) h += 12;
    }
    return utc(
      Number(m[3]),
      Number(m[1]),
      Number(m[2]),
      h,
      Number(m[5] ?? 0),
      Number(m[6] ?? 0),
      0,
      offsetMinutes(m[8]),
    );
  }
  m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d{1,7}))?(Z|[+-]\d{4})?$/.exec(s);
  if (m) {
    return utc(
      Number(m[1]),
      Number(m[2]),
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6] ?? 0),
      fraction(m[7]),
      offsetMinutes(m[8]),
    );
  }
  return null;
}

/** Entra's date text: "M/d/yyyy h:mm:ss tt", UTC. */
export function formatEntraDate(d: Date): string {
  return formatDate(d, 'M/d/yyyy h:mm:ss tt');
}

type Tok = { kind: 'lit'; text: string } | { kind: 'spec'; ch: string; n: number };

function tokenizeFormat(fmt: string): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < fmt.length;) {
    const c = fmt[i]!;
    if (c === "'" || c === '"') {
      const end = fmt.indexOf(c, i + 1);
      const stop = end < 0 ? fmt.length : end;
      out.push({ kind: 'lit', text: fmt.slice(i + 1, stop) });
      i = stop + 1;
      continue;
    }
    if (c === '\\') {
      out.push({ kind: 'lit', text: fmt[i + 1] ?? '' });
      i += 2;
      continue;
    }
    if (c === '%') {
      i++;
      continue;
    }
    if ('yMdHhmsfFtzK'.includes(c)) {
      let n = 1;
      while (fmt[i + n] === c) n++;
      out.push({ kind: 'spec', ch: c, n });
      i += n;
      continue;
    }
    out.push({ kind: 'lit', text: c });
    i++;
  }
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Parses text with a .NET custom date and time format string (yyyy, MM, dd, HH, hh, mm, ss,
 * f..., tt, zzz, K, quoted literals). Leading and trailing white space is allowed. Without
 * an offset the time is UTC. Null when the text does not fit the format.
 */
export function parseDateWithFormat(text: string, format: string): Date | null {
  const toks = tokenizeFormat(format);
  const fields: Array<{ ch: string; n: number }> = [];
  let re = '';
  for (const t of toks) {
    if (t.kind === 'lit') {
      re += escapeRe(t.text);
      continue;
    }
    const { ch, n } = t;
    let part: string;
    switch (ch) {
      case 'y':
        part = n === 1 ? '(\\d{1,2})' : n === 2 ? '(\\d{2})' : `(\\d{${n}})`;
        break;
      case 'M':
        part =
          n === 1 ? '(\\d{1,2})' : n === 2 ? '(\\d{2})' : n === 3 ? '([A-Za-z]{3})' : '([A-Za-z]+)';
        break;
      case 'd':
        part = n === 1 ? '(\\d{1,2})' : n === 2 ? '(\\d{2})' : '([A-Za-z]+)';
        break;
      case 'H':
      case 'h':
      case 'm':
      case 's':
        part = n === 1 ? '(\\d{1,2})' : '(\\d{2})';
        break;
      case 'f':
        part = `(\\d{${n}})`;
        break;
      case 'F':
        part = `(\\d{0,${n}})`;
        break;
      case 't':
        part = n === 1 ? '([AaPp])' : '([AaPp][Mm])';
        break;
      case 'z':
        part = n === 1 ? '([+-]\\d{1,2})' : n === 2 ? '([+-]\\d{2})' : '([+-]\\d{2}:\\d{2})';
        break;
      default: // K
        part = '(Z|[+-]\\d{2}:\\d{2})?';
    }
    re += part;
    fields.push({ ch, n });
  }
  const m = new RegExp(`^\\s*${re}\\s*$`).exec(text);
  if (!m) return null;
  let y = 1,
    mo = 1,
    d = 1,
    h = 0,
    mi = 0,
    s = 0,
    ms = 0,
    off = 0,
    pm: boolean | null = null;
  for (let i = 0; i < fields.length; i++) {
    const { ch, n } = fields[i]!;
    const v = m[i + 1] ?? '';
    switch (ch) {
      case 'y':
        y = n <= 2 ? 2000 + Number(v) - (Number(v) > 49 ? 100 : 0) : Number(v);
        break;
      case 'M':
        if (n <= 2) mo = Number(v);
        else {
          const idx = MONTHS.findIndex((name) =>
            n === 3
              ? name.slice(0, 3).toLowerCase() === v.toLowerCase()
              : name.toLowerCase() === v.toLowerCase(),
          );
          if (idx < 0) return null;
          mo = idx + 1;
        }
        break;
      case 'd':
        if (n <= 2) d = Number(v);
        break;
      case 'H':
      case 'h':
        h = Number(v);
        break;
      case 'm':
        mi = Number(v);
        break;
      case 's':
        s = Number(v);
        break;
      case 'f':
      case 'F':
        ms = fraction(v);
        break;
      case 't':
        pm = v.toUpperCase().startsWith('P');
        break;
      case 'z':
      case 'K':
        off = offsetMinutes(
          v.length === 2 || v.length === 3 ? `${v[0]}${v.slice(1).padStart(2, '0')}:00` : v,
        );
        break;
    }
  }
  if (pm !== null) {
    if (h < 1 || h > 12) return null;
    if (!pm && h === 12) h = 0;
    if (pm && h !== 12) h += 12;
  }
  return utc(y, mo, d, h, mi, s, ms, off);
}

/** Writes a date with a .NET custom date and time format string, in UTC. */
export function formatDate(date: Date, format: string): string {
  const p = (v: number, n: number) => String(v).padStart(n, '0');
  const Y = date.getUTCFullYear();
  const Mo = date.getUTCMonth() + 1;
  const D = date.getUTCDate();
  const H = date.getUTCHours();
  const h12 = H % 12 === 0 ? 12 : H % 12;
  let out = '';
  for (const t of tokenizeFormat(format)) {
    if (t.kind === 'lit') {
      out += t.text;
      continue;
    }
    const { ch, n } = t;
    switch (ch) {
      case 'y':
        out += n === 1 ? String(Y % 100) : n === 2 ? p(Y % 100, 2) : p(Y, n);
        break;
      case 'M':
        out +=
          n === 1
            ? String(Mo)
            : n === 2
              ? p(Mo, 2)
              : n === 3
                ? MONTHS[Mo - 1]!.slice(0, 3)
                : MONTHS[Mo - 1]!;
        break;
      case 'd': {
        const day = DAYS[date.getUTCDay()]!;
        out += n === 1 ? String(D) : n === 2 ? p(D, 2) : n === 3 ? day.slice(0, 3) : day;
        break;
      }
      case 'H':
        out += n === 1 ? String(H) : p(H, 2);
        break;
      case 'h':
        out += n === 1 ? String(h12) : p(h12, 2);
        break;
      case 'm':
        out += n === 1 ? String(date.getUTCMinutes()) : p(date.getUTCMinutes(), 2);
        break;
      case 's':
        out += n === 1 ? String(date.getUTCSeconds()) : p(date.getUTCSeconds(), 2);
        break;
      case 'f':
      case 'F': {
        const digits = p(date.getUTCMilliseconds(), 3).padEnd(7, '0').slice(0, n);
        out += ch === 'F' ? digits.replace(/0+$/, '') : digits;
        break;
      }
      case 't':
        out += (H < 12 ? 'AM' : 'PM').slice(0, n === 1 ? 1 : 2);
        break;
      case 'z':
        out += n === 1 ? '+0' : n === 2 ? '+00' : '+00:00';
        break;
      default: // K: a UTC time
        out += 'Z';
    }
  }
  return out;
}

/** Adds an interval (yyyy, q, m, y, d, w, ww, h, n, s) as VBA's DateAdd; months clamp the day. */
export function addInterval(date: Date, interval: string, amount: number): Date {
  const n = Math.trunc(amount);
  const t = date.getTime();
  switch (interval) {
    case 'yyyy':
      return addMonths(date, n * 12);
    case 'q':
      return addMonths(date, n * 3);
    case 'm':
      return addMonths(date, n);
    case 'y':
    case 'd':
    case 'w':
      return new Date(t + n * 86_400_000);
    case 'ww':
      return new Date(t + n * 7 * 86_400_000);
    case 'h':
      return new Date(t + n * 3_600_000);
    case 'n':
      return new Date(t + n * 60_000);
    default: // s
      return new Date(t + n * 1000);
  }
}

function addMonths(date: Date, months: number): Date {
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth() + months;
  const targetY = y + Math.floor(m / 12);
  const targetM = ((m % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(targetY, targetM + 1, 0)).getUTCDate();
  const d = new Date(date.getTime());
  d.setUTCFullYear(targetY, targetM, Math.min(date.getUTCDate(), lastDay));
  return d;
}

/** Whole months from a to b, and the time left over (same sign). */
function monthsBetween(a: Date, b: Date): number {
  let months = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + (b.getUTCMonth() - a.getUTCMonth());
  let anchor = addMonths(a, months);
  if (months > 0 && anchor.getTime() > b.getTime()) anchor = addMonths(a, --months);
  if (months < 0 && anchor.getTime() < b.getTime()) anchor = addMonths(a, ++months);
  const next = addMonths(a, months + Math.sign(b.getTime() - anchor.getTime() || 1));
  const span = Math.abs(next.getTime() - anchor.getTime()) || 1;
  return months + (b.getTime() - anchor.getTime()) / span;
}

/** Half away from zero. */
function round(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

/** date2 - date1 in the interval's unit, rounded to the nearest whole unit. */
export function diffInterval(interval: string, date1: Date, date2: Date): number {
  const ms = date2.getTime() - date1.getTime();
  switch (interval) {
    case 'yyyy':
      return round(monthsBetween(date1, date2) / 12);
    case 'q':
      return round(monthsBetween(date1, date2) / 3);
    case 'm':
      return round(monthsBetween(date1, date2));
    case 'y':
    case 'd':
    case 'w':
      return round(ms / 86_400_000);
    case 'ww':
      return round(ms / (7 * 86_400_000));
    case 'h':
      return round(ms / 3_600_000);
    case 'n':
      return round(ms / 60_000);
    default:
      return round(ms / 1000);
  }
}

export const DATE_INTERVALS = ['yyyy', 'q', 'm', 'y', 'd', 'w', 'ww', 'h', 'n', 's'] as const;

/** Active Directory's 100-nanosecond ticks since 1601-01-01 UTC. */
const AD_EPOCH_OFFSET_MS = 11_644_473_600_000n;

export function dateFromAdTicks(ticks: bigint): Date {
  return new Date(Number(ticks / 10_000n - AD_EPOCH_OFFSET_MS));
}

export function adTicksFromDate(date: Date): bigint {
  return (BigInt(date.getTime()) + AD_EPOCH_OFFSET_MS) * 10_000n;
}
