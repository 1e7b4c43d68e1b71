import { isIP } from 'node:net';
import { isPrivateAddress } from '../app/webhooks/destination.js';

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
  return isIP(host) !== 0 && isPrivateAddress(host);
}
