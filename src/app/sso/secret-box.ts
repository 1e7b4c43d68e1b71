import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';

/** The environment variable holding the server key that encrypts SSO client secrets. */
export const SSO_KEY_ENV = 'ROSTER_SSO_KEY';

const HOW_TO_SET = `Set ${SSO_KEY_ENV} to 32 random bytes, base64-encoded (e.g. the output of \`openssl rand -base64 32\`), the same value for the server and bin/roster, and keep it out of the database's backups.`;

/**
 * The server key from ROSTER_SSO_KEY: 32 bytes as base64 (44 characters) or hex (64).
 * Undefined when unset; a malformed value is an error that says what is expected.
 */
export function ssoKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const raw = env[SSO_KEY_ENV]?.trim();
  if (raw === undefined || raw === '') return undefined;
  return parseSsoKey(raw);
}

export function parseSsoKey(raw: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32)
    throw new AppError('invalid', `${SSO_KEY_ENV} is not a 32-byte key. ${HOW_TO_SET}`);
  return key;
}

/** Why a secret cannot be stored: there is no key to encrypt it with. */
export function missingKeyError(): AppError {
  return new AppError(
    'invalid',
    `Roster stores the client secret only encrypted, and ${SSO_KEY_ENV} is not set. ${HOW_TO_SET}`,
  );
}

/**
 * AES-256-GCM with a random 96-bit IV per secret; the account id is the additional
 * authenticated data, so a ciphertext copied to another account's row does not decrypt.
 */
export function seal(key: Buffer, plaintext: string, accountId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(accountId, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return ['v1', iv, tag, body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

export function open(key: Buffer, sealed: string, accountId: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || iv === undefined || tag === undefined || body === undefined)
    throw new AppError('invalid', 'The stored client secret is not in a format this Roster reads.');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(accountId, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(body, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    throw new AppError(
      'invalid',
      `The stored client secret does not decrypt with this ${SSO_KEY_ENV}: the key changed since it was stored. Set the secret again (bin/roster sso set --client-secret-stdin).`,
    );
  }
}
