/**
 * Regular expressions written by admins (Replace in expressions, REGEX MATCH in scoping
 * filters) run on every object of every cycle, so a pattern must not be able to hang the
 * process:
 *
 * - A pattern with a catastrophic shape (a repeated group holding another repetition,
 *   alternatives or a backreference) runs only on V8's linear-time engine, or is refused
 *   when that engine cannot run it (backreferences, lookaround, ignore-case, group
 *   positions).
 * - Other patterns have worst cases polynomial in the input, of a degree bounded by their
 *   repetitions, optional parts and alternatives (plus one). They run on
 *   V8's fast backtracking engine when the input is short enough for that degree to stay
 *   small, else on the linear-time engine, else under a REGEX_TIME_LIMIT_MS watchdog, and
 *   never on inputs over MAX_REGEX_INPUT characters.
 *
 * Patterns are .NET's, which JavaScript reads the same way for everything admins write in
 * practice: classes, anchors, named groups `(?<name>...)`. A leading `(?i)` is read as the
 * ignore-case option.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export const MAX_REGEX_PATTERN = 1_000;
export const MAX_REGEX_INPUT = 10_000;
/** Time a backtracking pattern may take on one value. */
export const REGEX_TIME_LIMIT_MS = 100;
/** Worst-case backtracking steps allowed without the linear engine or the watchdog. */
const FAST_STEP_BUDGET = 1e7;

let linearEngine = false;
try {
  // Only enables the optional engine behind the `l` flag; other regular expressions are
  // unaffected.
  v8.setFlagsFromString('--enable-experimental-regexp-engine');
  // eslint-disable-next-line no-invalid-regexp -- 'l' selects V8's linear-time engine
  new RegExp('a', 'l');
  linearEngine = true;
} catch {
  linearEngine = false;
}

export class UnsafeRegexError extends Error {
  override name = 'UnsafeRegexError';
}

export interface SafeRegex {
  /** V8's backtracking engine; null when the pattern has a catastrophic shape. */
  readonly fast: RegExp | null;
  /** V8's linear-time engine; null when it cannot run the pattern. */
  readonly linear: RegExp | null;
  /** Inputs up to this length run on `fast` directly. */
  readonly fastUpTo: number;
}

const cache = new Map<string, SafeRegex>();

/** Compile a pattern, or throw UnsafeRegexError with a message an admin can act on. */
export function safeRegex(pattern: string, baseFlags: '' | 'g' | 'gd' = ''): SafeRegex {
  const key = `${baseFlags}/${pattern}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (pattern.length > MAX_REGEX_PATTERN) {
    throw new UnsafeRegexError(`regular expression is longer than ${MAX_REGEX_PATTERN} characters`);
  }
  let body = pattern;
  let flags: string = baseFlags;
  const inline = /^\(\?([imsx]+)\)/.exec(body);
  if (inline) {
    const opts = inline[1] ?? '';
    if (opts.includes('x')) throw new UnsafeRegexError('the (?x) option is not supported');
    body = body.slice(inline[0].length);
    if (opts.includes('i')) flags += 'i';
    if (opts.includes('m')) flags += 'm';
    if (opts.includes('s')) flags += 's';
  }
  body = fromDotnet(body);
  // Unicode categories (\p{L}) need JavaScript's u flag, which is otherwise stricter.
  if (/\\[pP]\{/.test(body)) flags += 'u';
  let backtracking: RegExp;
  try {
    backtracking = new RegExp(body, flags);
  } catch (err) {
    const msg =
      err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err);
    throw new UnsafeRegexError(`invalid regular expression: ${msg}`);
  }
  let linear: RegExp | null = null;
  if (linearEngine && !flags.includes('d')) {
    try {
      linear = new RegExp(body, `${flags}l`);
    } catch {
      linear = null; // the linear engine cannot run it
    }
  }
  const why = catastrophicShape(body);
  if (why && !linear) {
    throw new UnsafeRegexError(
      `regular expression refused: ${why} can take exponential time; rewrite it without that`,
    );
  }
  const degree = repetitions(body) + 1;
  const result: SafeRegex = {
    fast: why ? null : backtracking,
    linear,
    fastUpTo: why ? -1 : Math.floor(FAST_STEP_BUDGET ** (1 / degree)),
  };
  if (cache.size > 500) cache.clear();
  cache.set(key, result);
  return result;
}

const sandbox = vm.createContext(Object.create(null) as Record<string, unknown>);
const callRun = new vm.Script('run()');

/**
 * Runs fn with the compiled pattern on input, on the engine the input's length allows (see
 * above). fn must consume its matches before returning (no lazy iterators).
 */
export function runRegex<T>(r: SafeRegex, input: string, fn: (re: RegExp) => T): T {
  if (r.fast && input.length <= r.fastUpTo) {
    r.fast.lastIndex = 0;
    return fn(r.fast);
  }
  if (r.linear) {
    r.linear.lastIndex = 0;
    return fn(r.linear);
  }
  checkRegexInput(r, input);
  const re = r.fast!;
  re.lastIndex = 0;
  sandbox['run'] = () => fn(re);
  try {
    return callRun.runInContext(sandbox, { timeout: REGEX_TIME_LIMIT_MS }) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new UnsafeRegexError(
        `regular expression took more than ${REGEX_TIME_LIMIT_MS} ms on a value of ${input.length} characters`,
      );
    }
    throw err;
  } finally {
    sandbox['run'] = undefined;
    re.lastIndex = 0;
  }
}

/**
 * .NET syntax JavaScript reads differently: `\A` and `\z`/`\Z` anchors (JavaScript would
 * read letters) and `(?'name'...)` groups.
 */
function fromDotnet(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1] ?? '';
      if (!inClass && n === 'A') out += '^';
      else if (!inClass && (n === 'z' || n === 'Z')) out += '$';
      else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') inClass = true;
    else if (c === '(' && pattern.startsWith("?'", i + 1)) {
      const end = pattern.indexOf("'", i + 3);
      if (end > 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(pattern.slice(i + 3, end))) {
        out += `(?<${pattern.slice(i + 3, end)}>`;
        i = end;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/**
 * Operators that multiply the paths a backtracking engine may try (*, +, ?, {n,m},
 * alternatives) outside character classes.
 */
function repetitions(pattern: string): number {
  let n = 0;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    const prev = pattern[i - 1];
    if (c === '[') inClass = true;
    else if (c === '*' || c === '+' || c === '|') n++;
    else if (
      c === '?' &&
      prev !== '(' &&
      prev !== '*' &&
      prev !== '+' &&
      prev !== '?' &&
      prev !== '}'
    )
      n++;
    else if (c === '{' && /^\{\d+,\d*\}/.test(pattern.slice(i, i + 24))) n++;
  }
  return n;
}

/** Throws when input is longer than MAX_REGEX_INPUT. */
function checkRegexInput(_r: SafeRegex, input: string): void {
  if (input.length > MAX_REGEX_INPUT) {
    throw new UnsafeRegexError(
      `value is longer than ${MAX_REGEX_INPUT} characters, the limit for this regular expression`,
    );
  }
}

/**
 * A static look for the shapes of catastrophic backtracking: a quantified group that
 * contains another quantifier (`(a+)+`, `(\w+\s?)*`) or an alternation (`(a|aa)+`), or a
 * backreference inside a quantified group. Returns a description, or null when none is found.
 */
export function catastrophicShape(pattern: string): string | null {
  interface Frame {
    start: number;
    hasQuantifier: boolean;
    hasAlternation: boolean;
    hasBackref: boolean;
  }
  const stack: Frame[] = [
    { start: 0, hasQuantifier: false, hasAlternation: false, hasBackref: false },
  ];
  let inClass = false;
  let last: Frame | null = null; // the group that just closed, if the previous atom is a group
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const top = stack[stack.length - 1]!;
    if (c === '\\') {
      const n = pattern[i + 1] ?? '';
      if (!inClass && (/[1-9]/.test(n) || n === 'k')) top.hasBackref = true;
      i++;
      last = null;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      last = null;
      continue;
    }
    if (c === '(') {
      stack.push({ start: i, hasQuantifier: false, hasAlternation: false, hasBackref: false });
      last = null;
      continue;
    }
    if (c === ')') {
      const closed = stack.length > 1 ? stack.pop()! : top;
      const parent = stack[stack.length - 1]!;
      parent.hasQuantifier ||= closed.hasQuantifier;
      parent.hasBackref ||= closed.hasBackref;
      last = closed;
      continue;
    }
    if (c === '|') {
      top.hasAlternation = true;
      last = null;
      continue;
    }
    const isQuant =
      c === '*' ||
      c === '+' ||
      c === '?' ||
      (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i)));
    if (isQuant) {
      // `?` right after `(` is a group modifier, after a quantifier it is laziness.
      const prev = pattern[i - 1];
      if (
        c === '?' &&
        (prev === '(' || prev === '*' || prev === '+' || prev === '?' || prev === '}')
      )
        continue;
      const repeats =
        c === '*' || c === '+' || (c === '{' && !/^\{[01](,[01])?\}/.test(pattern.slice(i)));
      if (last && repeats) {
        if (last.hasQuantifier) return 'a repeated group that contains another repetition';
        if (last.hasAlternation) return 'a repeated group that contains alternatives';
        if (last.hasBackref) return 'a backreference inside a repeated group';
      }
      top.hasQuantifier = true;
      if (c === '{') i = pattern.indexOf('}', i);
      last = null;
      continue;
    }
    last = null;
  }
  return null;
}

/** .NET replacement syntax to JavaScript's: `${name}` -> `$<name>`. */
export function dotnetReplacement(s: string): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, '$<$1>');
}
