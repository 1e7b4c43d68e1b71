/**
 * Entra's expression functions: arity, compile-time checks and evaluation. Semantics follow
 * Microsoft's reference ("Reference for writing expressions for attribute mappings in
 * Microsoft Entra ID"); where it is silent, docs/engine-expressions.md says what Roster does.
 */
import { randomInt, randomUUID } from 'node:crypto';
import {
  DATE_INTERVALS,
  addInterval,
  adTicksFromDate,
  dateFromAdTicks,
  diffInterval,
  formatDate,
  parseDateWithFormat,
} from './dates.js';
import type { Node } from './parse.js';
import {
  dotnetReplacement,
  runRegex,
  safeRegex,
  UnsafeRegexError,
  type SafeRegex,
} from './regex.js';
import type { EvalContext, RoleValue } from './types.js';
import {
  EvalFailure,
  IgnoreFlow,
  describeValue,
  isEmpty,
  isNullish,
  toBool,
  toDate,
  toInt,
  toList,
  toNum,
  toStr,
} from './values.js';

export type CallNode = Extract<Node, { kind: 'call' }>;

export interface Runner {
  /** Evaluates argument i (an empty or absent argument is null). */
  arg(call: CallNode, i: number): unknown;
  readonly ctx: EvalContext;
}

export interface FnDef {
  name: string;
  /** Parameter names; a trailing '...' marks a repeating parameter. */
  params: string[];
  min: number;
  max: number;
  /** Argument positions that may be left empty, as in Switch([a], , "x", "y"). */
  mayBeEmpty?: (index: number, argCount: number) => boolean;
  description: string;
  example: string;
  nondeterministic?: boolean;
  check?: (call: CallNode, fail: (message: string, pos: number) => never) => void;
  run: (r: Runner, call: CallNode) => unknown;
}

const fail = (message: string, pos: number): never => {
  throw new EvalFailure(message, pos);
};

function pick(ctx: EvalContext, n: number): number {
  if (ctx.random) return Math.min(n - 1, Math.floor(ctx.random() * n));
  return randomInt(n);
}

function chars(s: string): string[] {
  return Array.from(s);
}

function strArg(r: Runner, call: CallNode, i: number): string | null {
  return toStr(r.arg(call, i), call.name, call.args[i]?.pos ?? call.pos);
}

function intArg(r: Runner, call: CallNode, i: number): number | null {
  return toInt(r.arg(call, i), call.name, call.args[i]?.pos ?? call.pos);
}

function literal(call: CallNode, i: number): string | number | undefined {
  const a = call.args[i];
  if (!a) return undefined;
  if (a.kind === 'str') return a.value;
  if (a.kind === 'num') return a.value;
  return undefined;
}

// ---- NormalizeDiacritics ---------------------------------------------------------------
const SPECIAL_LETTERS: Record<string, string> = {
  æ: 'ae',
  Æ: 'AE',
  ǣ: 'ae',
  Ǣ: 'AE',
  ø: 'oe',
  Ø: 'OE',
  œ: 'oe',
  Œ: 'OE',
  ß: 'ss',
  ł: 'l',
  Ł: 'L',
  ı: 'i',
  đ: 'd',
  Đ: 'D',
  ð: 'd',
  Ð: 'D',
  þ: 'th',
  Þ: 'TH',
};

const SPECIAL_LETTER = new RegExp(`[${Object.keys(SPECIAL_LETTERS).join('')}]`, 'g');

export function normalizeDiacritics(s: string): string {
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  return s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(SPECIAL_LETTER, (ch) => SPECIAL_LETTERS[ch] ?? ch)
    .normalize('NFC');
}

// ---- PCase ----------------------------------------------------------------------------
export function properCase(s: string, separators: string | null): string {
  const isSep =
    separators === null
      ? (ch: string) => !/[\p{L}\p{M}\p{N}]/u.test(ch)
      : (ch: string) => separators.includes(ch);
  let out = '';
  let start = true;
  for (const ch of s) {
    if (isSep(ch)) {
      out += ch;
      start = true;
      continue;
    }
    out += start ? ch.toUpperCase() : ch.toLowerCase();
    start = false;
  }
  return out;
}

// ---- RandomString ---------------------------------------------------------------------
const DIGITS = '0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const SPECIAL = '~!@#$%^&*_-+=`|\\(){}[]:;"\'<>,.?/';
export const RANDOM_STRING_MAX = 256;

function randomString(
  ctx: EvalContext,
  length: number,
  minNumbers: number,
  minSpecial: number,
  minCapital: number,
  minLower: number,
  avoid: string,
  pos: number,
): string {
  if (length < 1 || length > RANDOM_STRING_MAX)
    fail(`RandomString length must be between 1 and ${RANDOM_STRING_MAX}`, pos);
  for (const n of [minNumbers, minSpecial, minCapital, minLower])
    if (n < 0) fail('RandomString minimums cannot be negative', pos);
  if (minNumbers + minSpecial + minCapital + minLower > length) {
    fail(
      `RandomString minimums add up to ${minNumbers + minSpecial + minCapital + minLower}, more than the length ${length}`,
      pos,
    );
  }
  const keep = (set: string) => chars(set).filter((c) => !avoid.includes(c));
  const classes: Array<[string[], number, string]> = [
    [keep(DIGITS), minNumbers, 'numbers'],
    [keep(SPECIAL), minSpecial, 'special characters'],
    [keep(UPPER), minCapital, 'capital letters'],
    [keep(LOWER), minLower, 'lower-case letters'],
  ];
  const out: string[] = [];
  for (const [set, min, label] of classes) {
    if (min > 0 && set.length === 0)
      fail(`RandomString needs ${label} but CharactersToAvoid excludes them all`, pos);
    for (let i = 0; i < min; i++) out.push(set[pick(ctx, set.length)]!);
  }
  const all = classes.flatMap(([set]) => set);
  if (all.length === 0) fail('RandomString: CharactersToAvoid excludes every character', pos);
  while (out.length < length) out.push(all[pick(ctx, all.length)]!);
  for (let i = out.length - 1; i > 0; i--) {
    const j = pick(ctx, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.join('');
}

function guid(ctx: EvalContext): string {
  if (!ctx.random) return randomUUID();
  const hex = '0123456789abcdef';
  let s = '';
  for (let i = 0; i < 32; i++) {
    let d = pick(ctx, 16);
    if (i === 12) d = 4;
    if (i === 16) d = 8 + (d % 4);
    s += hex[d];
  }
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

// ---- Roles ----------------------------------------------------------------------------
function roles(v: unknown, fn: string, pos: number): Array<{ value: string; display: string }> {
  const out: Array<{ value: string; display: string }> = [];
  for (const e of toList(v)) {
    if (isNullish(e)) continue;
    if (typeof e === 'object' && !(e instanceof Date)) {
      const o = e as Record<string, unknown>;
      const value = o['value'] ?? o['displayName'] ?? o['id'];
      if (isNullish(value))
        fail(`${fn}: an app role assignment has no value, displayName or id`, pos);
      const display = o['displayName'] ?? value;
      out.push({ value: String(value), display: String(display) });
    } else {
      const s = toStr(e, fn, pos) ?? '';
      out.push({ value: s, display: s });
    }
  }
  return out;
}

// ---- Replace --------------------------------------------------------------------------
function regexFor(pattern: string, flags: '' | 'g' | 'gd', pos: number) {
  try {
    return safeRegex(pattern, flags);
  } catch (err) {
    if (err instanceof UnsafeRegexError) fail(`Replace: ${err.message}`, pos);
    throw err;
  }
}

function bounded<T>(re: SafeRegex, input: string, fn: (regex: RegExp) => T, pos: number): T {
  try {
    return runRegex(re, input, fn);
  } catch (err) {
    if (err instanceof UnsafeRegexError) fail(`Replace: ${err.message}`, pos);
    throw err;
  }
}

function replace(r: Runner, call: CallNode): unknown {
  const a = call.args;
  const source = strArg(r, call, 0);
  const oldValue = a.length > 1 ? strArg(r, call, 1) : null;
  const pattern = a.length > 2 ? strArg(r, call, 2) : null;
  const group = a.length > 3 ? strArg(r, call, 3) : null;
  const replacement = a.length > 4 ? strArg(r, call, 4) : null;
  const hasReplacementAttribute = a.length > 5 && a[5]!.kind !== 'empty';
  const template = a.length > 6 ? strArg(r, call, 6) : null;
  const patternPos = a[2]?.pos ?? call.pos;

  if (pattern !== null && pattern !== '') {
    if (group !== null && group !== '' && hasReplacementAttribute) {
      if (source !== null && source !== '') return source;
      const other = strArg(r, call, 5);
      if (other === null) return null;
      const re = regexFor(pattern, '', patternPos);
      const m = bounded(re, other, (regex) => regex.exec(other), patternPos);
      if (!m) return null;
      if (!m.groups || !(group in m.groups))
        fail(`Replace: the regular expression has no group named '${group}'`, a[3]!.pos);
      return m.groups![group] ?? null;
    }
    if (source === null) return null;
    if (group !== null && group !== '') {
      const re = regexFor(pattern, 'gd', patternPos);
      const value = replacement ?? '';
      const matches = bounded(re, source, (regex) => [...source.matchAll(regex)], patternPos);
      let out = '';
      let last = 0;
      for (const m of matches) {
        const groups = m.indices?.groups;
        if (!groups || !(group in groups))
          fail(`Replace: the regular expression has no group named '${group}'`, a[3]!.pos);
        const span = groups![group];
        if (!span || span[0] < last) continue;
        out += source.slice(last, span[0]) + value;
        last = span[1];
      }
      return out + source.slice(last);
    }
    if (replacement === null) return source;
    const re = regexFor(pattern, 'g', patternPos);
    const js = dotnetReplacement(replacement);
    return bounded(re, source, (regex) => source.replace(regex, js), patternPos);
  }
  if (oldValue !== null && oldValue !== '') {
    if (template !== null) {
      if (source === null) return null;
      return template.split(oldValue).join(source);
    }
    if (source === null) return null;
    if (replacement === null) return source;
    return source.split(oldValue).join(replacement);
  }
  return source;
}

// ---- The table ------------------------------------------------------------------------
const ANY_EMPTY_AFTER_FIRST = (i: number) => i > 0;

export const FUNCTIONS: FnDef[] = [
  {
    name: 'Append',
    params: ['source', 'suffix'],
    min: 2,
    max: 2,
    description: 'Appends suffix to source. A null source gives null; a null suffix gives source.',
    example: 'Append([userPrincipalName], ".test")',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      if (s === null) return null;
      return s + (strArg(r, c, 1) ?? '');
    },
  },
  {
    name: 'AppRoleAssignmentsComplex',
    params: ['appRoleAssignments'],
    min: 1,
    max: 1,
    description:
      'All app role assignments as SCIM roles: [{primary: false, type: "WindowsAzureActiveDirectoryRole", display, value}]; null when there are none.',
    example: 'AppRoleAssignmentsComplex([appRoleAssignments])',
    run: (r, c) => {
      const list = roles(r.arg(c, 0), c.name, c.pos);
      if (list.length === 0) return null;
      return list.map<RoleValue>((x) => ({
        primary: false,
        type: 'WindowsAzureActiveDirectoryRole',
        display: x.display,
        value: x.value,
      }));
    },
  },
  {
    name: 'BitAnd',
    params: ['value1', 'value2'],
    min: 2,
    max: 2,
    description: 'Bitwise AND of two whole numbers (decimal or &H hexadecimal).',
    example: 'BitAnd(&HF, &HF7)',
    run: (r, c) => {
      const a = intArg(r, c, 0);
      const b = intArg(r, c, 1);
      if (a === null || b === null) return null;
      return Number(BigInt(a) & BigInt(b));
    },
  },
  {
    name: 'CBool',
    params: ['expression'],
    min: 1,
    max: 1,
    description:
      'True when the value is non-zero or "True" (any case); False for zero, "False", empty or null.',
    example: 'CBool([attribute1] = [attribute2])',
    run: (r, c) => toBool(r.arg(c, 0), c.name, c.args[0]!.pos),
  },
  {
    name: 'CDate',
    params: ['expression'],
    min: 1,
    max: 1,
    description:
      'Reads a date text (ISO 8601, also with an offset on a date alone) as a UTC date; shown as M/d/yyyy h:mm:ss tt.',
    example: 'CDate("2009-06-15T01:45:30-07:00")',
    run: (r, c) => toDate(r.arg(c, 0), c.name, c.args[0]!.pos),
  },
  {
    name: 'Coalesce',
    params: ['source1', 'sourceN...'],
    min: 1,
    max: Infinity,
    description: 'The first argument that is not null (the last one serves as the default value).',
    example: 'Coalesce([mail], [userPrincipalName])',
    run: (r, c) => {
      for (let i = 0; i < c.args.length; i++) {
        const v = r.arg(c, i);
        if (!isNullish(v)) return v;
      }
      return null;
    },
  },
  {
    name: 'ConvertToBase64',
    params: ['source'],
    min: 1,
    max: 1,
    description: 'Base64 of the text encoded as UTF-16LE ("Unicode"), as .NET does.',
    example: 'ConvertToBase64("Hello world!")',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      return s === null ? null : Buffer.from(s, 'utf16le').toString('base64');
    },
  },
  {
    name: 'ConvertToUTF8Hex',
    params: ['source'],
    min: 1,
    max: 1,
    description: 'Upper-case hexadecimal of the text encoded as UTF-8.',
    example: 'ConvertToUTF8Hex("Hello world!")',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      return s === null ? null : Buffer.from(s, 'utf8').toString('hex').toUpperCase();
    },
  },
  {
    name: 'Count',
    params: ['attribute'],
    min: 1,
    max: 1,
    description:
      'Number of values in a multi-valued attribute (0 when null, 1 for a single value).',
    example: 'Count([proxyAddresses])',
    run: (r, c) => toList(r.arg(c, 0)).length,
  },
  {
    name: 'CStr',
    params: ['value'],
    min: 1,
    max: 1,
    description:
      'The value as text: numbers in decimal, booleans as True/False, dates as M/d/yyyy h:mm:ss tt.',
    example: 'CStr([dn])',
    run: (r, c) => strArg(r, c, 0),
  },
  {
    name: 'DateAdd',
    params: ['interval', 'value', 'dateTime'],
    min: 3,
    max: 3,
    description:
      'Adds value intervals (yyyy, q, m, y, d, w, ww, h, n, s) to a date; months keep the day or clamp it to the month end.',
    example: 'DateAdd("d", 7, CDate([StatusHireDate]))',
    check: (c, f) => checkInterval(c, f),
    run: (r, c) => {
      const interval = intervalArg(r, c);
      const n = toNum(r.arg(c, 1), c.name, c.args[1]!.pos);
      const d = toDate(r.arg(c, 2), c.name, c.args[2]!.pos);
      if (n === null || d === null) return null;
      return addInterval(d, interval, n);
    },
  },
  {
    name: 'DateDiff',
    params: ['interval', 'date1', 'date2'],
    min: 3,
    max: 3,
    description:
      'date2 - date1 in whole intervals (yyyy, q, m, y, d, w, ww, h, n, s), rounded to the nearest: positive when date2 is later.',
    example: 'DateDiff("d", Now(), CDate([StatusHireDate]))',
    check: (c, f) => checkInterval(c, f),
    run: (r, c) => {
      const interval = intervalArg(r, c);
      const a = toDate(r.arg(c, 1), c.name, c.args[1]!.pos);
      const b = toDate(r.arg(c, 2), c.name, c.args[2]!.pos);
      if (a === null || b === null) return null;
      return diffInterval(interval, a, b);
    },
  },
  {
    name: 'DateFromNum',
    params: ['value'],
    min: 1,
    max: 1,
    description:
      "A date from Active Directory's format (100-nanosecond ticks since 1601); 0 and the 'never' value give null.",
    example: 'DateFromNum(129699324000000000)',
    run: (r, c) => {
      const v = r.arg(c, 0);
      if (isNullish(v) || v === '') return null;
      let ticks: bigint;
      if (typeof v === 'number' && Number.isFinite(v)) ticks = BigInt(Math.trunc(v));
      else {
        const s = toStr(v, c.name, c.args[0]!.pos)!.trim();
        if (!/^-?\d+$/.test(s))
          fail(`DateFromNum expects a whole number but got ${describeValue(v)}`, c.args[0]!.pos);
        ticks = BigInt(s);
      }
      if (ticks <= 0n || ticks >= 0x7fffffffffffffffn) return null;
      return dateFromAdTicks(ticks);
    },
  },
  {
    name: 'FormatDateTime',
    params: ['source', 'dateTimeStyles', 'inputFormat', 'outputFormat'],
    min: 3,
    max: 4,
    mayBeEmpty: (i, n) => n === 4 && i === 1,
    description:
      'Reads source with a .NET custom inputFormat and writes it with outputFormat (UTC). The three-argument form (source, inputFormat, outputFormat) is accepted too.',
    example: 'FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")',
    run: (r, c) => {
      const four = c.args.length === 4;
      const source = r.arg(c, 0);
      const inFmt = strArg(r, c, four ? 2 : 1);
      const outFmt = strArg(r, c, four ? 3 : 2);
      if (isNullish(source) || source === '') return null;
      let date: Date | null;
      if (source instanceof Date) date = source;
      else {
        const text = toStr(source, c.name, c.args[0]!.pos)!;
        date = inFmt ? parseDateWithFormat(text, inFmt) : toDate(text, c.name, c.args[0]!.pos);
        if (!date)
          fail(
            `FormatDateTime: ${describeValue(text)} does not match the input format "${inFmt}"`,
            c.args[0]!.pos,
          );
      }
      return formatDate(date!, outFmt ?? 'M/d/yyyy h:mm:ss tt');
    },
  },
  {
    name: 'Guid',
    params: [],
    min: 0,
    max: 0,
    description: 'A new random GUID (lower case).',
    example: 'Guid()',
    nondeterministic: true,
    run: (r) => guid(r.ctx),
  },
  {
    name: 'IgnoreFlowIfNullOrEmpty',
    params: ['expression'],
    min: 1,
    max: 1,
    description:
      'The value, or, when it is null or empty, drop the target attribute from the flow (evaluate returns IGNORE).',
    example: 'IgnoreFlowIfNullOrEmpty([department])',
    run: (r, c) => {
      const v = r.arg(c, 0);
      if (isEmpty(v)) throw new IgnoreFlow();
      return v;
    },
  },
  {
    name: 'IIF',
    params: ['condition', 'valueIfTrue', 'valueIfFalse'],
    min: 3,
    max: 3,
    description:
      'valueIfTrue when the condition holds, else valueIfFalse. Conditions may compare with = <> < <= > >=; null compares as "".',
    example: 'IIF([country]="USA",[country],[department])',
    run: (r, c) => (toBool(r.arg(c, 0), c.name, c.args[0]!.pos) ? r.arg(c, 1) : r.arg(c, 2)),
  },
  {
    name: 'InStr',
    params: ['value1', 'value2', 'start', 'compareType'],
    min: 2,
    max: 4,
    mayBeEmpty: (i) => i >= 2,
    description:
      'Position (from 1) of the first value2 in value1 from start, 0 when absent; compareType vbTextCompare ignores case, vbBinaryCompare (default) does not.',
    example: 'InStr("repEated","e",3,vbBinaryCompare)',
    check: (c, f) => {
      const a = c.args[3];
      if (a && a.kind === 'name' && a.name !== 'vbTextCompare' && a.name !== 'vbBinaryCompare') {
        f(`InStr compareType must be vbTextCompare or vbBinaryCompare, not ${a.name}`, a.pos);
      }
    },
    run: (r, c) => {
      const hay = strArg(r, c, 0);
      const needle = strArg(r, c, 1);
      if (hay === null || needle === null) return null;
      const start = c.args.length > 2 ? (intArg(r, c, 2) ?? 1) : 1;
      if (start < 1) fail(`InStr start must be 1 or more, not ${start}`, c.args[2]!.pos);
      const cmp = c.args.length > 3 ? r.arg(c, 3) : null;
      const text =
        cmp === 'vbTextCompare' ||
        cmp === 1 ||
        cmp === '1' ||
        (typeof cmp === 'string' && cmp.toLowerCase() === 'vbtextcompare');
      const h = text ? hay.toLowerCase() : hay;
      const n = text ? needle.toLowerCase() : needle;
      if (start > h.length + 1) return 0;
      return h.indexOf(n, start - 1) + 1;
    },
  },
  {
    name: 'IsNull',
    params: ['expression'],
    min: 1,
    max: 1,
    description: 'True when the value is null (an absent attribute).',
    example: 'IsNull([displayName])',
    run: (r, c) => isNullish(r.arg(c, 0)),
  },
  {
    name: 'IsNullOrEmpty',
    params: ['expression'],
    min: 1,
    max: 1,
    description: 'True when the value is null or an empty string. The inverse of IsPresent.',
    example: 'IsNullOrEmpty([displayName])',
    run: (r, c) => isEmpty(r.arg(c, 0)),
  },
  {
    name: 'IsPresent',
    params: ['expression'],
    min: 1,
    max: 1,
    description:
      'True when the value is neither null nor an empty string. The inverse of IsNullOrEmpty.',
    example:
      'Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),[skiplevelManager], IsPresent([director]),[director])',
    run: (r, c) => !isEmpty(r.arg(c, 0)),
  },
  {
    name: 'IsString',
    params: ['expression'],
    min: 1,
    max: 1,
    description:
      'True when the value is text (not null, a number, a boolean, a date or several values).',
    example: 'IsString([employeeId])',
    run: (r, c) => typeof r.arg(c, 0) === 'string',
  },
  {
    name: 'Item',
    params: ['attribute', 'index'],
    min: 2,
    max: 2,
    description: 'The value at index (from 1) of a multi-valued attribute; null when out of range.',
    example: 'Item([proxyAddresses], 1)',
    run: (r, c) => {
      const list = toList(r.arg(c, 0));
      const i = intArg(r, c, 1);
      if (i === null || i < 1 || i > list.length) return null;
      return list[i - 1] ?? null;
    },
  },
  {
    name: 'Join',
    params: ['separator', 'source1', 'sourceN...'],
    min: 2,
    max: Infinity,
    description:
      'Joins the values (every value of a multi-valued one) with separator, skipping null and empty values.',
    example: 'Join(", ", "", [surname], [givenName])',
    run: (r, c) => {
      const sep = strArg(r, c, 0) ?? '';
      const parts: string[] = [];
      for (let i = 1; i < c.args.length; i++) {
        for (const v of toList(r.arg(c, i))) {
          const s = toStr(v, c.name, c.args[i]!.pos);
          if (s !== null && s !== '') parts.push(s);
        }
      }
      return parts.join(sep);
    },
  },
  {
    name: 'Left',
    params: ['string', 'numChars'],
    min: 2,
    max: 2,
    description:
      'The first numChars characters; the whole string when numChars is negative or larger; "" for a null string.',
    example: 'Left("John Doe", 3)',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      if (s === null) return '';
      const n = intArg(r, c, 1) ?? 0;
      if (n < 0) return s;
      return chars(s).slice(0, n).join('');
    },
  },
  {
    name: 'Mid',
    params: ['source', 'start', 'length'],
    min: 3,
    max: 3,
    description:
      'length characters from position start (from 1); shorter when the string ends first.',
    example: 'Mid([givenName], 1, 3)',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      if (s === null) return null;
      const start = intArg(r, c, 1) ?? 1;
      const len = intArg(r, c, 2) ?? 0;
      if (start < 1) fail(`Mid start must be 1 or more, not ${start}`, c.args[1]!.pos);
      if (len < 0) fail(`Mid length cannot be negative (${len})`, c.args[2]!.pos);
      return chars(s)
        .slice(start - 1, start - 1 + len)
        .join('');
    },
  },
  {
    name: 'NormalizeDiacritics',
    params: ['source'],
    min: 1,
    max: 1,
    description: 'Replaces letters with diacritics by plain ones (é→e, ß→ss, æ→ae, ø→oe, ł→l).',
    example: 'NormalizeDiacritics([givenName])',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      return s === null ? null : normalizeDiacritics(s);
    },
  },
  {
    name: 'Not',
    params: ['source'],
    min: 1,
    max: 1,
    description:
      'False when the value is True ("True" in any case, or a boolean true), otherwise True.',
    example: 'Not([accountEnabled])',
    run: (r, c) => {
      const v = r.arg(c, 0);
      if (v === true) return false;
      if (typeof v === 'string' && v.trim().toLowerCase() === 'true') return false;
      if (typeof v === 'number' && v !== 0) return false;
      return true;
    },
  },
  {
    name: 'Now',
    params: [],
    min: 0,
    max: 0,
    description: 'The current UTC date and time (M/d/yyyy h:mm:ss tt as text).',
    example: 'Now()',
    nondeterministic: true,
    run: (r) => (r.ctx.now ? r.ctx.now() : new Date()),
  },
  {
    name: 'NumFromDate',
    params: ['value'],
    min: 1,
    max: 1,
    description:
      "A date as Active Directory's number (100-nanosecond ticks since 1601), returned as text since it exceeds 2^53.",
    example:
      'NumFromDate(Join("", FormatDateTime([ContractEndDate], ,"yyyy-MM-ddzzz", "yyyy-MM-dd"), " 23:59:59-08:00"))',
    run: (r, c) => {
      const d = toDate(r.arg(c, 0), c.name, c.args[0]!.pos);
      return d === null ? null : adTicksFromDate(d).toString();
    },
  },
  {
    name: 'PCase',
    params: ['source', 'wordSeparators'],
    min: 1,
    max: 2,
    mayBeEmpty: (i) => i === 1,
    description:
      'Upper-cases the first letter of each word and lower-cases the rest; words are split by wordSeparators, or by anything that is not a letter or digit.',
    example: 'PCase([lastName]," \'-")',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      if (s === null) return null;
      const seps = c.args.length > 1 ? strArg(r, c, 1) : null;
      return properCase(s, seps === '' ? null : seps);
    },
  },
  {
    name: 'RandomString',
    params: [
      'length',
      'minimumNumbers',
      'minimumSpecialCharacters',
      'minimumCapital',
      'minimumLowerCase',
      'charactersToAvoid',
    ],
    min: 5,
    max: 6,
    mayBeEmpty: (i) => i === 5,
    description: `A random string of length characters (at most ${RANDOM_STRING_MAX}) with at least the given numbers, special characters, capitals and lower-case letters, avoiding the characters listed.`,
    example: 'RandomString(10,2,2,2,1,"?,")',
    nondeterministic: true,
    check: (c, f) => {
      const nums = [0, 1, 2, 3, 4].map((i) => literal(c, i));
      if (nums.every((n) => typeof n === 'number')) {
        const [len, ...mins] = nums as number[];
        if (!Number.isInteger(len) || len! < 1 || len! > RANDOM_STRING_MAX)
          f(`RandomString length must be between 1 and ${RANDOM_STRING_MAX}`, c.args[0]!.pos);
        const sum = mins.reduce((a, b) => a + b, 0);
        if (sum > len!)
          f(`RandomString minimums add up to ${sum}, more than the length ${len}`, c.pos);
      }
    },
    run: (r, c) => {
      const n = [0, 1, 2, 3, 4].map((i) => intArg(r, c, i) ?? 0) as [
        number,
        number,
        number,
        number,
        number,
      ];
      const avoid = c.args.length > 5 ? (strArg(r, c, 5) ?? '') : '';
      return randomString(r.ctx, ...n, avoid, c.pos);
    },
  },
  {
    name: 'Redact',
    params: ['attribute/value'],
    min: 1,
    max: 1,
    description: 'The value unchanged; the provisioning log shows "[Redact]" instead of it.',
    example: 'Redact([userPrincipalName])',
    run: (r, c) => r.arg(c, 0),
  },
  {
    name: 'RemoveDuplicates',
    params: ['attribute'],
    min: 1,
    max: 1,
    description: 'The values of a multi-valued attribute without duplicates, in first-seen order.',
    example: 'RemoveDuplicates([proxyAddresses])',
    run: (r, c) => {
      const v = r.arg(c, 0);
      if (isNullish(v)) return null;
      const seen = new Set<string>();
      const out: string[] = [];
      for (const e of toList(v)) {
        const s = toStr(e, c.name, c.args[0]!.pos);
        if (s === null || seen.has(s)) continue;
        seen.add(s);
        out.push(s);
      }
      return out;
    },
  },
  {
    name: 'Replace',
    params: [
      'source',
      'oldValue',
      'regexPattern',
      'regexGroupName',
      'replacementValue',
      'replacementAttributeName',
      'template',
    ],
    min: 2,
    max: 7,
    mayBeEmpty: ANY_EMPTY_AFTER_FIRST,
    description:
      'Case-sensitive replace: oldValue→replacementValue in source; oldValue in template by source; regexPattern matches→replacementValue (${group} references); only regexGroupName spans→replacementValue; or, when source is empty, regexGroupName out of replacementAttributeName.',
    example: 'Replace([mail], "@contoso.com", , , "", , )',
    check: (c, f) => {
      const p = literal(c, 2);
      if (typeof p === 'string' && p !== '') {
        const g = literal(c, 3);
        try {
          safeRegex(
            p,
            typeof g === 'string' && g !== '' && !(c.args[5] && c.args[5].kind !== 'empty')
              ? 'gd'
              : 'g',
          );
        } catch (err) {
          if (err instanceof UnsafeRegexError) f(`Replace: ${err.message}`, c.args[2]!.pos);
          throw err;
        }
        if (
          typeof g === 'string' &&
          g !== '' &&
          !p.includes(`(?<${g}>`) &&
          !p.includes(`(?'${g}'`)
        ) {
          f(`Replace: the regular expression has no group named '${g}'`, c.args[3]!.pos);
        }
      }
      const hasOld =
        literal(c, 1) !== undefined || (c.args[1] !== undefined && c.args[1].kind !== 'empty');
      const hasPattern = c.args[2] !== undefined && c.args[2].kind !== 'empty';
      if (!hasOld && !hasPattern)
        f('Replace needs an oldValue (argument 2) or a regexPattern (argument 3)', c.pos);
    },
    run: replace,
  },
  {
    name: 'SelectUniqueValue',
    params: ['uniqueValueRule1', 'uniqueValueRule2', 'uniqueValueRuleN...'],
    min: 2,
    max: Infinity,
    description:
      'The first candidate that is not empty and does not exist in the target yet; fails the object when every candidate exists. Top level only; use it on create-only mappings.',
    example:
      'SelectUniqueValue(Join("@", [givenName], "contoso.com"), Join("@", Join(".", [givenName], [surname]), "contoso.com"))',
    run: () => {
      throw new Error('SelectUniqueValue is evaluated by the compiler');
    },
  },
  {
    name: 'SingleAppRoleAssignment',
    params: ['appRoleAssignments'],
    min: 1,
    max: 1,
    description: "The value of the user's (first) app role assignment; null when there is none.",
    example: 'SingleAppRoleAssignment([appRoleAssignments])',
    run: (r, c) => roles(r.arg(c, 0), c.name, c.pos)[0]?.value ?? null,
  },
  {
    name: 'Split',
    params: ['source', 'delimiter'],
    min: 2,
    max: 2,
    description:
      'Splits text into several values at each delimiter; white space around each value is trimmed.',
    example: 'Split([extensionAttribute5], ",")',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      if (s === null) return null;
      const d = strArg(r, c, 1);
      if (d === null || d === '') return [s.trim()];
      return s.split(d).map((x) => x.trim());
    },
  },
  {
    name: 'StripSpaces',
    params: ['source'],
    min: 1,
    max: 1,
    description: 'Removes every space character.',
    example: 'StripSpaces([displayName])',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      return s === null ? null : s.split(' ').join('');
    },
  },
  {
    name: 'Switch',
    params: ['source', 'defaultValue', 'key1', 'value1', 'keyN...', 'valueN...'],
    min: 4,
    max: Infinity,
    mayBeEmpty: ANY_EMPTY_AFTER_FIRST,
    description:
      'The value paired with the first key equal (case-sensitive) to source, else defaultValue; a null source matches the key "". Booleans read as True/False.',
    example:
      'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")',
    check: (c, f) => {
      if (c.args.length % 2 !== 0) {
        f(
          `Switch takes source, defaultValue, then key/value pairs: an even number of arguments, but got ${c.args.length}`,
          c.pos,
        );
      }
    },
    run: (r, c) => {
      const src = strArg(r, c, 0) ?? '';
      for (let i = 2; i + 1 < c.args.length; i += 2) {
        const key = strArg(r, c, i) ?? '';
        if (key === src) return r.arg(c, i + 1);
      }
      return r.arg(c, 1);
    },
  },
  {
    name: 'ToLower',
    params: ['source', 'culture'],
    min: 1,
    max: 2,
    mayBeEmpty: (i) => i === 1,
    description:
      'Lower case, with the rules of culture (such as tr-TR) when given, else culture-neutral.',
    example:
      'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [PreferredFirstName], [PreferredLastName]))), "contoso.com"))',
    check: (c, f) => checkCulture(c, f),
    run: (r, c) => changeCase(r, c, 'lower'),
  },
  {
    name: 'ToUpper',
    params: ['source', 'culture'],
    min: 1,
    max: 2,
    mayBeEmpty: (i) => i === 1,
    description: 'Upper case, with the rules of culture when given, else culture-neutral.',
    example: 'ToUpper([countryCode])',
    check: (c, f) => checkCulture(c, f),
    run: (r, c) => changeCase(r, c, 'upper'),
  },
  {
    name: 'Word',
    params: ['string', 'wordNumber', 'delimiters'],
    min: 3,
    max: 3,
    description:
      'Word number wordNumber (from 1), words being separated by any of the delimiter characters; "" when there is no such word.',
    example: 'Word("This,string!has&many separators",3,",!&#")',
    run: (r, c) => {
      const s = strArg(r, c, 0);
      const n = intArg(r, c, 1);
      const delims = chars(strArg(r, c, 2) ?? '');
      if (s === null || n === null || n < 1) return '';
      const words: string[] = [];
      let cur = '';
      for (const ch of s) {
        if (delims.includes(ch)) {
          if (cur !== '') words.push(cur);
          cur = '';
        } else cur += ch;
      }
      if (cur !== '') words.push(cur);
      return words[n - 1] ?? '';
    },
  },
];

function checkInterval(c: CallNode, f: (m: string, p: number) => never): void {
  const v = literal(c, 0);
  if (typeof v === 'string' && !(DATE_INTERVALS as readonly string[]).includes(v)) {
    f(`${c.name} interval must be one of ${DATE_INTERVALS.join(', ')}; got "${v}"`, c.args[0]!.pos);
  }
}

function intervalArg(r: Runner, c: CallNode): string {
  const v = strArg(r, c, 0);
  if (v === null || !(DATE_INTERVALS as readonly string[]).includes(v)) {
    fail(
      `${c.name} interval must be one of ${DATE_INTERVALS.join(', ')}; got ${describeValue(v)}`,
      c.args[0]!.pos,
    );
  }
  return v!;
}

function checkCulture(c: CallNode, f: (m: string, p: number) => never): void {
  const v = literal(c, 1);
  if (typeof v === 'string' && v !== '') {
    try {
      Intl.getCanonicalLocales(v);
    } catch {
      f(`${c.name}: "${v}" is not a culture name such as en-US`, c.args[1]!.pos);
    }
  }
}

function changeCase(r: Runner, c: CallNode, to: 'lower' | 'upper'): string | null {
  const s = strArg(r, c, 0);
  if (s === null) return null;
  const culture = c.args.length > 1 ? strArg(r, c, 1) : null;
  if (culture) {
    try {
      return to === 'lower' ? s.toLocaleLowerCase(culture) : s.toLocaleUpperCase(culture);
    } catch {
      fail(`${c.name}: "${culture}" is not a culture name such as en-US`, c.args[1]!.pos);
    }
  }
  return to === 'lower' ? s.toLowerCase() : s.toUpperCase();
}

export const FUNCTION_MAP = new Map(FUNCTIONS.map((f) => [f.name, f]));

/** Constants an expression may name without brackets or quotes. */
export const NAMES: Record<string, unknown> = {
  vbTextCompare: 'vbTextCompare',
  vbBinaryCompare: 'vbBinaryCompare',
  True: true,
  False: false,
};
