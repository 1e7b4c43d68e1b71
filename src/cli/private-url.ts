import { isIP } from 'node:net';

/**
 * Whether a webhook URL names a loopback, private or link-local host literally
 * (`localhost`, 127.0.0.1, 10.x, 192.168.x, ::1 ...): the server refuses to deliver
 * there unless WEBHOOK_ALLOW_PRIVATE=1, so `roster webhook add` says so at once.
 */
export function isPrivateDestination(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return false;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) {
    const [a, b] = host.split('.').map(Number) as [number, number];
    return (
      a === 127 ||
      a === 10 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (isIP(host) === 6) {
    return (
      host === '::1' ||
      host === '::' ||
      /^f[cd]/.test(host) ||
      /^fe[89ab]/.test(host) ||
      /^::ffff:(127|10|192\.168)\./.test(host)
    );
  }
  return false;
}
