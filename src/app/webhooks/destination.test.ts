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
  });
});
