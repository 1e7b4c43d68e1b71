import { describe, expect, it } from 'vitest';
import { checkRegion, loadConfig, regionOfHost, regionOrigin } from './config.js';

describe('loadConfig', () => {
  it('has working defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: './data/roster.db',
      publicUrl: 'http://127.0.0.1:8080',
      region: 'eu',
      logLevel: 'info',
      regions: {
        configured: false,
        defaultRegion: 'eu',
        list: [{ name: 'eu', origin: 'http://127.0.0.1:8080' }],
      },
      trustProxy: false,
      originsExplicit: false,
      sqliteCommitSync: 'thread',
      sqliteMmapMb: 0,
      logRetentionDays: 30,
    });
  });

  it('reads LOG_RETENTION_DAYS (0 keeps the provisioning log forever)', () => {
    expect(loadConfig({ LOG_RETENTION_DAYS: '90' }).logRetentionDays).toBe(90);
    expect(loadConfig({ LOG_RETENTION_DAYS: '0' }).logRetentionDays).toBe(0);
    for (const bad of ['-1', '1.5', 'month', '40000'])
      expect(() => loadConfig({ LOG_RETENTION_DAYS: bad })).toThrow(/LOG_RETENTION_DAYS must be/);
  });

  it('reads SQLITE_MMAP_MB', () => {
    expect(loadConfig({ SQLITE_MMAP_MB: '256' }).sqliteMmapMb).toBe(256);
  });

  it('reads SQLITE_COMMIT_SYNC', () => {
    expect(loadConfig({ SQLITE_COMMIT_SYNC: 'full' }).sqliteCommitSync).toBe('full');
  });

  it('reads the environment and trims the public URL', () => {
    const config = loadConfig({
      PORT: '3000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u@db/roster',
      PUBLIC_URL: 'https://app.us.example.com/',
      REGION: 'us',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: 'postgres://u@db/roster',
      publicUrl: 'https://app.us.example.com',
      region: 'us',
      logLevel: 'debug',
      originsExplicit: true,
    });
    expect(loadConfig({ PORT: '9000' }).publicUrl).toBe('http://127.0.0.1:9000');
  });

  it.each([
    [{ PORT: 'abc' }, /PORT must be an integer/],
    [{ PORT: '70000' }, /PORT must be an integer/],
    [{ PUBLIC_URL: 'not a url' }, /PUBLIC_URL must be an absolute URL/],
    [{ PUBLIC_URL: 'ftp://x' }, /PUBLIC_URL must start with http/],
    [{ REGION: 'EU West' }, /REGION must be/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ SQLITE_COMMIT_SYNC: 'normal' }, /SQLITE_COMMIT_SYNC must be "thread" or "full"/],
    [{ SQLITE_MMAP_MB: '4096' }, /SQLITE_MMAP_MB must be a whole number of MiB from 0 to 2048/],
    [{ SQLITE_MMAP_MB: '1.5' }, /SQLITE_MMAP_MB must be a whole number/],
    [{ REGIONS: 'eu' }, /REGIONS must look like/],
    [{ REGIONS: 'eu=https://a.example.com,eu=https://b.example.com' }, /twice/],
    [{ REGIONS: 'eu=https://a.example.com,us=https://a.example.com' }, /two regions the host/],
    [{ REGIONS: 'eu=https://a.example.com/scim' }, /without a path/],
    [{ REGIONS: 'eu=ftp://a.example.com' }, /REGIONS \(eu\) must start with http/],
    [{ REGIONS: 'eu=https://a.example.com', REGION: 'us' }, /REGION "us" is not one of REGIONS/],
    [{ TRUST_PROXY: 'maybe' }, /TRUST_PROXY must be 1 or 0/],
  ])('rejects %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads REGIONS: each region an origin, the first the default, PUBLIC_URL its origin', () => {
    const config = loadConfig({
      REGIONS: 'eu=https://app.example.com/, us=https://app.us.example.com',
    });
    expect(config.regions).toEqual({
      configured: true,
      defaultRegion: 'eu',
      list: [
        { name: 'eu', origin: 'https://app.example.com' },
        { name: 'us', origin: 'https://app.us.example.com' },
      ],
    });
    expect(config.publicUrl).toBe('https://app.example.com');
    expect(regionOrigin(config.regions, 'us')).toBe('https://app.us.example.com');
    expect(regionOfHost(config.regions, 'APP.US.example.com')?.name).toBe('us');
    expect(regionOfHost(config.regions, '127.0.0.1:8080')).toBeUndefined();
    expect(() => checkRegion(config.regions, 'ap')).toThrow(/unknown region "ap".*eu \(https/);
    expect(
      loadConfig({ REGIONS: 'eu=https://a.example.com,us=https://b.example.com', REGION: 'us' })
        .region,
    ).toBe('us');
  });

  it('without REGIONS, any region label is served at PUBLIC_URL', () => {
    const config = loadConfig({ PUBLIC_URL: 'https://app.example.com' });
    expect(regionOrigin(config.regions, 'us')).toBe('https://app.example.com');
    expect(regionOfHost(config.regions, 'app.example.com')).toBeUndefined();
    expect(() => checkRegion(config.regions, 'us')).not.toThrow();
  });
});
