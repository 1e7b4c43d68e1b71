import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

// scrypt cost parameters (RFC 7914): N=2^14, r=8, p=1 — OWASP's minimum for scrypt.
const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$<salt base64>$<hash base64>`, with a random 16-byte salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', N, R, P, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Checks a password against a stored `hashPassword` value; false for a malformed hash. */
export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltText, hashText] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !saltText || !hashText) return false;
  const expected = Buffer.from(hashText, 'base64');
  const params = { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 };
  if (![params.N, params.r, params.p].every(Number.isSafeInteger) || expected.length === 0) {
    return false;
  }
  const actual = await new Promise<Buffer>((resolve, reject) => {
    scrypt(password, Buffer.from(saltText, 'base64'), expected.length, params, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
  return timingSafeEqual(actual, expected);
}

const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A random password for a new admin, printed once by the CLI. */
export function generatePassword(length = 20): string {
  let password = '';
  for (let i = 0; i < length; i++)
    password += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return password;
}

/** zxcvbn score (0–4) an admin password needs: 3 is "safely unguessable". */
export const MIN_PASSWORD_SCORE = 3;

type Zxcvbn = { check(password: string, userInputs?: string[]): ZxcvbnResult };
interface ZxcvbnResult {
  readonly score: number;
  readonly feedback: { readonly warning: string | null; readonly suggestions: string[] };
}
let estimator: Promise<Zxcvbn> | undefined;

/** zxcvbn-ts with its common and English dictionaries, loaded on first use (they are large). */
function strengthEstimator(): Promise<Zxcvbn> {
  estimator ??= (async () => {
    const [{ ZxcvbnFactory }, common, en] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
      import('@zxcvbn-ts/language-en'),
    ]);
    return new ZxcvbnFactory({
      dictionary: { ...common.dictionary, ...en.dictionary },
      graphs: common.adjacencyGraphs,
      translations: en.translations,
    }) as Zxcvbn;
  })();
  return estimator;
}

/**
 * Why a password is too easy to guess, or undefined when it is strong enough:
 * zxcvbn's estimate (common passwords, dictionary words, repeats, sequences,
 * keyboard patterns, l33t), with the account's own words (the e-mail) counted
 * as known. Whitespace-only passwords never pass.
 */
export async function passwordWeakness(
  password: string,
  userInputs: readonly string[] = [],
): Promise<string | undefined> {
  if (password.trim() === '') return 'it is only whitespace';
  const result = (await strengthEstimator()).check(password, [...userInputs]);
  if (result.score >= MIN_PASSWORD_SCORE) return undefined;
  const advice = [result.feedback.warning, ...result.feedback.suggestions].filter(
    (text): text is string => typeof text === 'string' && text !== '',
  );
  return `it is too easy to guess (strength ${result.score} of 4, at least ${MIN_PASSWORD_SCORE} needed)${advice.length > 0 ? `: ${advice.join(' ')}` : ''}`;
}
