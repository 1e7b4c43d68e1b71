import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Webhook deliveries leave the server on behalf of a tenant: they must not reach
 * the server's own network (loopback, private ranges, link-local cloud metadata
 * at 169.254.169.254), or any admin could probe it through the delivery log.
 * Checked at each delivery, on every address the host resolves to. A host that
 * changes its DNS answer between this check and the connection (rebinding) is a
 * residual risk; deployments that need certainty put an egress proxy in front.
 */
export async function blockedDestination(url: string): Promise<string | undefined> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const addresses =
    isIP(host) !== 0
      ? [host]
      : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  const blocked = addresses.find(isPrivateAddress);
  return blocked === undefined
    ? undefined
    : `${host} resolves to ${blocked}, a loopback, private or link-local address: Roster does not deliver there (set WEBHOOK_ALLOW_PRIVATE=1 to allow it, e.g. in development)`;
}

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return isPrivateAddress(mapped);
  if (isIP(address) === 4) {
    const [a = 0, b = 0] = address.split('.').map(Number);
    return (
      a === 0 || // "this" network
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
      (a === 169 && b === 254) || // link-local, cloud metadata
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      a >= 224 // multicast and reserved
    );
  }
  const lower = address.toLowerCase();
  return (
    lower === '::' ||
    lower === '::1' ||
    /^f[cd][0-9a-f]{2}:/.test(lower) || // unique local fc00::/7
    /^fe[89ab][0-9a-f]:/.test(lower) || // link-local fe80::/10
    lower.startsWith('ff') // multicast
  );
}
