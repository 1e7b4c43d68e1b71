import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { computeSignature, signatureHeader, verifySignature } from './signature.js';

const SECRET = 'whsec_test';
const BODY = '{"events":[{"seq":1}]}';
const T = 1_900_000_000;

describe('webhook signatures', () => {
  it('signs "<t>.<body>" with HMAC-SHA256 keyed by the secret', () => {
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
    expect(computeSignature(SECRET, T, BODY)).toBe(expected);
    expect(signatureHeader(SECRET, T, BODY)).toBe(`t=${T},v1=${expected}`);
  });

  it.each([
    ['a valid header', signatureHeader(SECRET, T, BODY), BODY, T, true],
    ['raw bytes as a Buffer', signatureHeader(SECRET, T, BODY), Buffer.from(BODY), T + 10, true],
    [
      'a second v1 (rotation)',
      `t=${T},v1=${'0'.repeat(64)},v1=${computeSignature(SECRET, T, BODY)}`,
      BODY,
      T,
      true,
    ],
    ['spaces after commas', `t=${T}, v1=${computeSignature(SECRET, T, BODY)}`, BODY, T, true],
    ['a changed body', signatureHeader(SECRET, T, BODY), BODY.replace('1', '2'), T, false],
    ['another secret', signatureHeader('whsec_other', T, BODY), BODY, T, false],
    ['a replay after the tolerance', signatureHeader(SECRET, T, BODY), BODY, T + 301, false],
    ['a timestamp from the future', signatureHeader(SECRET, T, BODY), BODY, T - 301, false],
    ['a moved timestamp', `t=${T + 1},v1=${computeSignature(SECRET, T, BODY)}`, BODY, T, false],
    ['no timestamp', `v1=${computeSignature(SECRET, T, BODY)}`, BODY, T, false],
    ['no signature', `t=${T}`, BODY, T, false],
    ['garbage', 'nonsense', BODY, T, false],
    ['a short hex', `t=${T},v1=abcd`, BODY, T, false],
  ])('%s', (_name, header, body, now, valid) => {
    expect(verifySignature(SECRET, header, body, 300, now)).toBe(valid);
  });

  it('rejects a missing header and honours the tolerance argument', () => {
    expect(verifySignature(SECRET, undefined, BODY)).toBe(false);
    expect(verifySignature(SECRET, signatureHeader(SECRET, T, BODY), BODY, 1000, T + 900)).toBe(
      true,
    );
  });
});
