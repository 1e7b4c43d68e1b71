import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Webhook deliveries leave the server on behalf of a tenant: they must not reach the
 * server's own network (loopback, private ranges, link-local cloud metadata at
 * 169.254.169.254) or any other special-purpose range, or any admin could probe it
 * through the delivery log. Only public unicast addresses are allowed:
 *
 * - every textual form of an address is parsed to its bytes first, so IPv4-mapped
 *   (`::ffff:127.0.0.1`, which the URL parser rewrites to `::ffff:7f00:1`), IPv4-compatible,
 *   NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`) and Teredo forms cannot smuggle a private
 *   IPv4 address through;
 * - the URL is checked when the endpoint is added (a clear error at once), and again at
 *   each delivery, where the host name is resolved ONCE and the connection goes to the
 *   address that was checked (guardedLookup), so DNS rebinding cannot pass.
 *
 * WEBHOOK_ALLOW_PRIVATE=1 lifts the restriction (development, tests).
 */

/** WEBHOOK_ALLOW_PRIVATE=1: deliver to private and special addresses too. */
export function allowPrivateFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['WEBHOOK_ALLOW_PRIVATE'] === '1';
}

/** Resolves a host name to its addresses (injectable for tests). */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses.map((a) => a.address));
    });
  });

/** The error of a refused destination; `code` lets callers tell it from network errors. */
export class BlockedDestinationError extends Error {
  readonly code = 'EROSTERBLOCKED';
}

function blockedMessage(host: string, address: string): string {
  const subject = host === address ? `${address} is` : `${host} resolves to ${address},`;
  return `${subject} a loopback, private, link-local or other special-purpose address: Roster does not deliver there (set WEBHOOK_ALLOW_PRIVATE=1 to allow it, e.g. in development)`;
}

/** The host of a URL without IPv6 brackets. */
export function urlHost(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

/**
 * Why a URL may not be delivered to, or undefined when it may. An IP literal is checked
 * as is; a name is resolved and every address it resolves to is checked.
 */
export async function blockedDestination(
  url: string,
  resolver: Resolver = systemResolver,
): Promise<string | undefined> {
  const host = urlHost(url);
  const addresses = isIP(host) !== 0 ? [host] : await resolver(host);
  const blocked = addresses.find(isPrivateAddress);
  return blocked === undefined ? undefined : blockedMessage(host, blocked);
}

/**
 * A `lookup` for node:http that resolves once, refuses the connection when any address is
 * not public, and hands the socket exactly the addresses it checked.
 */
export function guardedLookup(
  resolver: Resolver = systemResolver,
  allowPrivate = false,
): LookupFunction {
  return ((hostname: string, options: unknown, callback: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as (
      error: NodeJS.ErrnoException | null,
      address: string | { address: string; family: number }[],
      family?: number,
    ) => void;
    const wantsAll =
      typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
    resolver(hostname).then(
      (addresses) => {
        if (addresses.length === 0) {
          cb(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
          return;
        }
        const blocked = allowPrivate ? undefined : addresses.find(isPrivateAddress);
        if (blocked !== undefined) {
          cb(new BlockedDestinationError(blockedMessage(hostname, blocked)), '');
          return;
        }
        const entries = addresses.map((address) => ({ address, family: isIP(address) }));
        if (wantsAll) cb(null, entries);
        else cb(null, entries[0]!.address, entries[0]!.family);
      },
      (error: NodeJS.ErrnoException) => cb(error, ''),
    );
  }) as LookupFunction;
}

/** True when an address is not a public unicast address (or is not an address at all). */
export function isPrivateAddress(address: string): boolean {
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return isSpecialIPv4(v4);
  const v6 = parseIPv6(address);
  if (v6 === undefined) return true;
  return isSpecialIPv6(v6);
}

function parseIPv4(text: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return undefined;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/** The 16 bytes of an IPv6 address in any textual form (`::`, embedded IPv4, zone id). */
export function parseIPv6(text: string): number[] | undefined {
  let s = text.toLowerCase().replace(/^\[|\]$/g, '');
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const groups: number[] = [];
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIPv4(item);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-f]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else return undefined;
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined;
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  } else {
    if (head.length !== 8) return undefined;
    groups.push(...head);
  }
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function isSpecialIPv4([a = 0, b = 0, c = 0]: number[]): boolean {
  return (
    a === 0 || // "this" network
    a === 10 || // private
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    a === 127 || // loopback
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) || // private
    (a === 192 && b === 0 && c === 0) || // IETF protocol assignments
    (a === 192 && b === 0 && c === 2) || // TEST-NET-1
    (a === 192 && b === 88 && c === 99) || // 6to4 relay anycast
    (a === 192 && b === 168) || // private
    (a === 198 && (b === 18 || b === 19)) || // benchmarking 198.18.0.0/15
    (a === 198 && b === 51 && c === 100) || // TEST-NET-2
    (a === 203 && b === 0 && c === 113) || // TEST-NET-3
    a >= 224 // multicast, reserved, broadcast
  );
}

function isSpecialIPv6(bytes: number[]): boolean {
  const zeroUpTo = (n: number): boolean => bytes.slice(0, n).every((b) => b === 0);
  // IPv4-mapped ::ffff:0:0/96: the IPv4 address decides.
  if (zeroUpTo(10) && bytes[10] === 0xff && bytes[11] === 0xff)
    return isSpecialIPv4(bytes.slice(12));
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = bytes;
  // Only global unicast 2000::/3 may be public. Everything else is special: ::, ::1,
  // IPv4-compatible ::/96, 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64), 100::/64 (discard),
  // fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10 (site-local), ff00::/8.
  if ((b0 & 0xe0) !== 0x20) return true;
  if (b0 === 0x20 && b1 === 0x01 && b2 < 0x02) return true; // 2001::/23 incl. Teredo 2001::/32
  if (b0 === 0x20 && b1 === 0x01 && b2 === 0x0d && b3 === 0xb8) return true; // 2001:db8::/32 documentation
  if (b0 === 0x20 && b1 === 0x02) return true; // 6to4 2002::/16 (embeds any IPv4 address)
  if (b0 === 0x3f && b1 === 0xff && (b2 & 0xf0) === 0) return true; // 3fff::/20 documentation
  return false;
}
