import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has working defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: './data/roster.db',
      publicUrl: 'http://127.0.0.1:8080',
      region: 'eu',
      logLevel: 'info',
    });
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
    expect(config).toEqual({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: 'postgres://u@db/roster',
      publicUrl: 'https://app.us.example.com',
      region: 'us',
      logLevel: 'debug',
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
  ])('rejects %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
