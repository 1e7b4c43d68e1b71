import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountBusyError } from '../../src/app/account-gate.js';
import { AppError } from '../../src/app/errors.js';
import {
  DomainError,
  ERROR_CODES,
  ERROR_SCHEMA,
  ERRORS,
  ScimError,
  codeOf,
  type ErrorCode,
  type ErrorDefinition,
} from '../../src/core/errors.js';
import { RestError, errorHandler, type Surface } from '../../src/http/errors.js';
import { isRetryable, mapDatabaseError } from '../../src/storage/db-errors.js';

/**
 * Every code of the error catalogue (src/core/errors.ts), thrown in a route, answered by
 * the error handler each API surface installs (src/http/errors.ts): the catalogue's
 * status everywhere, the scimType on SCIM, the code on the REST and admin APIs.
 */
const SURFACES: readonly Surface[] = ['scim', 'rest', 'admin'];

const definition = (code: ErrorCode): ErrorDefinition => ERRORS[code];

let thrown: unknown;
const apps = new Map<Surface, FastifyInstance>();

beforeAll(async () => {
  for (const surface of SURFACES) {
    const app = Fastify({ logger: false });
    app.setErrorHandler(errorHandler(surface, `a ${surface} test request`));
    app.get('/throw', async () => {
      throw thrown;
    });
    await app.ready();
    apps.set(surface, app);
  }
});

afterAll(async () => {
  for (const app of apps.values()) await app.close();
});

async function answer(surface: Surface, error: unknown) {
  thrown = error;
  const response = await apps.get(surface)!.inject({ method: 'GET', url: '/throw' });
  return { status: response.statusCode, headers: response.headers, body: response.json() };
}

/** What every surface must answer for `error`, whose catalogue code is `code`. */
async function expectRendered(error: unknown, code: ErrorCode, detail?: string): Promise<void> {
  const { status, scimType } = definition(code);
  const scim = await answer('scim', error);
  expect(scim.status, code).toBe(status);
  expect(scim.headers['content-type'], code).toMatch(/^application\/scim\+json/);
  expect(scim.body.schemas, code).toEqual([ERROR_SCHEMA]);
  expect(scim.body.status, code).toBe(String(status)); // a string (RFC 7644 §3.12)
  if (scimType === undefined) expect(scim.body, code).not.toHaveProperty('scimType');
  else expect(scim.body.scimType, code).toBe(scimType);
  if (detail !== undefined) expect(scim.body.detail, code).toBe(detail);

  for (const surface of ['rest', 'admin'] as const) {
    const json = await answer(surface, error);
    expect(json.status, `${surface} ${code}`).toBe(status);
    expect(json.headers['content-type'], `${surface} ${code}`).toMatch(/^application\/json/);
    expect(json.body.error.code, `${surface} ${code}`).toBe(code);
    if (detail !== undefined) expect(json.body.error.message, `${surface} ${code}`).toBe(detail);
    if (surface === 'admin') expect(json.headers['cache-control']).toBe('no-store');
    if (status === 503) expect(json.headers['retry-after'], code).toMatch(/^\d+$/);
  }
  if (status === 503) expect(scim.headers['retry-after'], code).toMatch(/^\d+$/);
}

describe('error catalogue', () => {
  it('gives every code a kind, a status of its kind and a description', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(20);
    for (const code of ERROR_CODES) {
      const d = definition(code);
      expect(code, code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(d.status >= 400 && d.status < 600, code).toBe(true);
      expect(d.description.length, code).toBeGreaterThan(10);
      // scimTypes are 400s but for uniqueness, 409 (RFC 7644 §3.12 table 9).
      if (d.scimType !== undefined)
        expect(d.status, code).toBe(d.scimType === 'uniqueness' ? 409 : 400);
      if (d.kind === 'internal' || d.kind === 'unavailable')
        expect(d.status >= 500, code).toBe(true);
      else expect(d.status < 500, code).toBe(true);
    }
  });

  it('is the table of docs/admin-api.md#errors, code for code', () => {
    const doc = readFileSync(new URL('../../docs/admin-api.md', import.meta.url), 'utf8');
    const rows = new Map<string, string[]>();
    for (const match of doc.matchAll(/^\| `([a-z_]+)` +\|(.*)\|$/gm))
      rows.set(
        match[1]!,
        match[2]!.split('|').map((cell) => cell.trim()),
      );
    expect([...rows.keys()].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      const [status, scimType] = rows.get(code)!;
      expect(status, code).toBe(String(definition(code).status));
      const documented = definition(code).scimType;
      expect(scimType, code).toBe(documented === undefined ? '' : `\`${documented}\``);
    }
  });

  it('renders every code with its status (and scimType on SCIM) on every surface', async () => {
    for (const code of ERROR_CODES) {
      await expectRendered(new DomainError(code, `detail of ${code}`), code, `detail of ${code}`);
    }
  });

  it('renders the older names alike: ScimError, AppError and RestError are DomainErrors', async () => {
    // The SCIM-shaped constructor finds the code of its status and scimType, for every
    // status and scimType of the catalogue.
    for (const code of ERROR_CODES) {
      const { status, scimType } = definition(code);
      const legacy = new ScimError(status, scimType, `legacy ${code}`);
      expect(legacy.status, code).toBe(status);
      expect(legacy.scimType, code).toBe(scimType);
      expect(legacy.code, code).toBe(codeOf(status, scimType));
      await expectRendered(legacy, legacy.code, `legacy ${code}`);
    }
    // A SCIM invalid filter reaching the REST API is a 400 there, not a 500.
    const filter = await answer('rest', new ScimError(400, 'invalidFilter', 'bad filter'));
    expect(filter.status).toBe(400);
    expect(filter.body.error).toEqual({ code: 'invalid_filter', message: 'bad filter' });
    // An app conflict is a 409 on the admin API without any patching of statuses.
    await expectRendered(new AppError('conflict', 'job running'), 'conflict');
    await expectRendered(new AppError('invalid', 'bad'), 'invalid_request');
    await expectRendered(new AppError('not_found', 'none'), 'not_found');
    await expectRendered(new AppError('conflict', 'only admin', 'last_admin'), 'last_admin');
    await expectRendered(new RestError(429, 'rate_limited', 'slow down'), 'rate_limited');
    const busy = new AccountBusyError('account', 3);
    await expectRendered(busy, 'account_busy');
    expect((await answer('rest', busy)).headers['retry-after']).toBe('3');
    expect((await answer('scim', busy)).headers['retry-after']).toBe('3');
  });

  it('maps database errors of both drivers to their codes, and retries see them as retryable', async () => {
    const cases: [string, ErrorCode][] = [
      ['SQLITE_CONSTRAINT_UNIQUE', 'not_unique'],
      ['SQLITE_CONSTRAINT_PRIMARYKEY', 'not_unique'],
      ['23505', 'not_unique'],
      ['SQLITE_CONSTRAINT_FOREIGNKEY', 'missing_reference'],
      ['23503', 'missing_reference'],
      ['40001', 'database_contention'],
      ['40P01', 'database_contention'],
      ['SQLITE_BUSY', 'database_contention'],
      ['57014', 'database_timeout'],
    ];
    for (const [driverCode, code] of cases) {
      const driverError = Object.assign(new Error(`driver says ${driverCode}`), {
        code: driverCode,
      });
      const mapped = mapDatabaseError(driverError);
      expect(mapped, driverCode).toBeInstanceOf(DomainError);
      expect((mapped as DomainError).code, driverCode).toBe(code);
      // A transaction's retry loop still recognises a deadlock once it has been mapped.
      expect(isRetryable(mapped), driverCode).toBe(code === 'database_contention');
      // Thrown raw, the surfaces map it themselves; the driver's message is never echoed.
      await expectRendered(driverError, code);
      expect(JSON.stringify((await answer('rest', driverError)).body)).not.toContain('driver says');
    }
    const named = mapDatabaseError(Object.assign(new Error('dup'), { code: '23505' }), {
      unique: () => new DomainError('user_name_taken', 'taken'),
    });
    expect((named as DomainError).code).toBe('user_name_taken');
    const other = new Error('something else');
    expect(mapDatabaseError(other)).toBe(other);
  });

  it('answers Fastify client errors with their codes and anything else with a 500 that echoes nothing', async () => {
    const fastify = (code: string, statusCode: number) =>
      Object.assign(new Error(`fastify ${code}`), { code, statusCode });
    await expectRendered(fastify('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415), 'unsupported_media_type');
    await expectRendered(fastify('FST_ERR_CTP_BODY_TOO_LARGE', 413), 'payload_too_large');
    await expectRendered(fastify('FST_ERR_CTP_EMPTY_JSON_BODY', 400), 'invalid_syntax');
    await expectRendered(fastify('FST_ERR_VALIDATION', 400), 'invalid_request');
    await expectRendered(new Error('secret internals'), 'internal_error');
    for (const surface of SURFACES)
      expect(
        JSON.stringify((await answer(surface, new Error('secret internals'))).body),
      ).not.toContain('secret');
  });
});
