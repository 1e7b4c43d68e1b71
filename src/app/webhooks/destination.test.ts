import { describe, expect, it } from 'vitest';
import { blockedDestination, isPrivateAddress } from './destination.js';

describe('webhook destinations', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['8.8.8.8', false],
    ['93.184.216.34', false],
    ['::1', true],
    ['::', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['2606:4700::1111', false],
    // Every textual form of a private IPv4 address inside IPv6.
    ['::ffff:7f00:1', true],
    ['::ffff:a00:1', true],
    ['::ffff:a9fe:a9fe', true],
    ['0:0:0:0:0:ffff:127.0.0.1', true],
    ['0000:0000:0000:0000:0000:FFFF:7F00:0001', true],
    ['[::ffff:127.0.0.1]', true],
    ['::127.0.0.1', true],
    ['::ffff:0:127.0.0.1', true],
    ['64:ff9b::7f00:1', true],
    ['64:ff9b::808:808', true],
    ['64:ff9b:1::1', true],
    ['2002:7f00:1::1', true],
    ['2002:808:808::1', true],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', true],
    ['2001:db8::1', true],
    ['fec0::1', true],
    ['febf::1', true],
    ['fc00::1', true],
    ['ff02::1', true],
    ['100::1', true],
    ['fe80::1%eth0', true],
    ['::ffff:7f00:1:2', true],
    ['not-an-address', true],
    ['2a00:1450:4001:80b::200e', false],
    // Special IPv4 ranges beyond the private ones.
    ['198.18.0.1', true],
    ['198.19.255.255', true],
    ['198.20.0.1', false],
    ['192.0.0.8', true],
    ['192.0.2.1', true],
    ['198.51.100.1', true],
    ['203.0.113.9', true],
    ['192.88.99.1', true],
    ['240.0.0.1', true],
    ['255.255.255.255', true],
  ])('%s is private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });

  it('refuses URLs whose host is or resolves to a private address, and says how to allow it', async () => {
    expect(await blockedDestination('http://127.0.0.1:4000/hook')).toContain(
      'WEBHOOK_ALLOW_PRIVATE',
    );
    expect(await blockedDestination('http://[::1]:4000/hook')).toContain('::1');
    expect(await blockedDestination('http://localhost:4000/hook')).toMatch(
      /localhost resolves to (127\.0\.0\.1|::1)/,
    );
    expect(await blockedDestination('https://93.184.216.34/hook')).toBeUndefined();
    // The URL parser rewrites [::ffff:127.0.0.1] to [::ffff:7f00:1]: still refused.
    expect(
      await blockedDestination(new URL('http://[::ffff:127.0.0.1]:4000/').toString()),
    ).toContain('special-purpose');
    expect(await blockedDestination('http://[::ffff:a9fe:a9fe]/')).toBeDefined();
    expect(await blockedDestination('http://0x7f.1/')).toBeDefined();
    expect(await blockedDestination('http://2130706433/')).toBeDefined();
  });
});
