import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { issueToken, revokeToken } from '../../src/app/tokens.js';
import { DEFAULT_MAPPINGS } from '../../src/sync/mapping/mappings.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The provisioning jobs pages in real Chromium (/usr/bin/chromium through playwright-core)
 * against a real Roster server feeding one of its own accounts from a JSON file.
 *
 * The account's origin is a small proxy in front of the server (the REGIONS origin of
 * its region), which can hold the engine's user creations: the test catches a cycle
 * midway and sees its progress bar without depending on how fast anything runs.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'docs', 'console');
const PASSWORD = 'correct horse battery';
const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

interface SourceUser {
  objectId: string;
  userPrincipalName?: string;
  displayName?: string;
  jobTitle?: string;
}

describe('provisioning jobs pages in Chromium', () => {
  let server: TestServer;
  let proxy: Server;
  let origin = '';
  let upstream: URL;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let dir: string;
  let accountId: string;
  let scimToken: string;
  let scimTokenId: string;
  const violations: string[] = [];
  /** While set, user creations after the first `gate.pass` wait until released. */
  let gate: { pass: number; seen: number; held: (() => void)[] } | null = null;

  const release = () => {
    const held = gate?.held ?? [];
    gate = null;
    held.forEach((f) => f());
  };

  const source = (users: SourceUser[]) =>
    writeFileSync(join(dir, accountId, 'people.json'), JSON.stringify({ users }));

  const people: SourceUser[] = [
    { objectId: 'u-ada', userPrincipalName: 'ada@acme.example', displayName: 'Ada Lovelace' },
    { objectId: 'u-alan', userPrincipalName: 'alan@acme.example', displayName: 'Alan Turing' },
    { objectId: 'u-grace', userPrincipalName: 'grace@acme.example', displayName: 'Grace Hopper' },
    { objectId: 'u-edsger', userPrincipalName: 'edsger@acme.example', displayName: 'E. Dijkstra' },
    // No userPrincipalName, so no userName: Roster refuses the create (400 invalidValue).
    { objectId: 'u-nameless', displayName: 'Nameless' },
  ];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: the console tests need Debian's chromium package.`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'roster-sync-console-'));
    process.env['ROSTER_SYNC_SOURCE_DIR'] = dir;
    proxy = createServer((req, res) => {
      const forward = () => {
        const out = httpRequest(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        out.on('error', () => res.destroy());
        req.pipe(out);
      };
      if (
        gate !== null &&
        req.method === 'POST' &&
        /\/scim\/azure\/[^/]+\/Users$/.test(req.url ?? '') &&
        ++gate.seen > gate.pass
      )
        gate.held.push(forward);
      else forward();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    server = await startTestServer('sqlite', { regions: () => `eu=${origin}` });
    upstream = new URL(server.origin);
    const account = await createAccount(server.stores, { name: 'Acme' });
    accountId = account.id;
    await createAdmin(server.stores, {
      accountId,
      email: 'it-admin@acme.example',
      password: PASSWORD,
    });
    const issued = await issueToken(server.stores, {
      accountId,
      type: 'scim',
      name: 'engine',
    });
    scimToken = issued.token;
    scimTokenId = issued.id;
    mkdirSync(join(dir, accountId));
    source(people);

    profile = mkdtempSync(join(tmpdir(), 'roster-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context.setDefaultTimeout(15_000);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== origin && url.protocol !== 'data:')
        violations.push(`request to another host: ${request.url()}`);
    });
    page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
  }, 120_000);

  afterAll(async () => {
    release();
    await context?.close();
    await server?.close();
    await new Promise((resolve) => proxy?.close(resolve));
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    delete process.env['ROSTER_SYNC_SOURCE_DIR'];
  });

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  async function axe(name: string): Promise<void> {
    await page.evaluate(axeSource);
    const found = await page.evaluate<string[]>(`axe.run().then((result) =>
      result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => v.id + ' (' + v.impact + ') at ' + JSON.stringify(v.nodes.map((n) => n.target)) + ': ' + v.help))`);
    expect(found, `axe on ${name}`).toEqual([]);
  }

  async function admin(method: string, path: string, body?: unknown) {
    const session = await fetch(`${origin}/api/v1/admin/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accountId, email: 'it-admin@acme.example', password: PASSWORD }),
    });
    const { token } = (await session.json()) as { token: string };
    const response = await fetch(`${origin}/api/v1/admin/accounts/${accountId}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test answers
    return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as any };
  }

  async function userNames(): Promise<string[]> {
    const response = await fetch(
      `${origin}/api/v1/scim/azure/${accountId}/Users?count=100&attributes=userName`,
      { headers: { authorization: `Bearer ${scimToken}` } },
    );
    const body = (await response.json()) as { Resources: { userName: string }[] };
    return body.Resources.map((u) => u.userName).sort();
  }

  const main = () => page.getByRole('main');
  const section = (name: string) => main().getByRole('region', { name });

  it('creates a job from a JSON source with the New job form; the list shows its state', async () => {
    await page.goto(`${origin}/console/sign-in`);
    await page.getByLabel('Email').fill('it-admin@acme.example');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'API Tokens' }).waitFor();
    await page
      .getByRole('navigation', { name: 'Console' })
      .getByRole('link', { name: 'Provisioning jobs', exact: true })
      .click();
    await page.getByRole('heading', { level: 1, name: 'Provisioning jobs' }).waitFor();
    await main().getByText('No provisioning job yet.').waitFor();
    await page.getByRole('button', { name: 'New job' }).click();
    const form = section('New job');
    await form.getByLabel('Job name').fill('people');
    await form.getByLabel('JSON', { exact: true }).check();
    // A path outside the account's directory is refused with the API's reason.
    await form.getByLabel('JSON file').fill('../people.json');
    await form.getByLabel('SCIM token').fill(scimToken);
    await form.getByLabel('PATCH dialect').selectOption('rfc');
    await form.getByLabel('Deletion threshold (optional)').fill('2');
    await axe('new job form');
    await form.getByRole('button', { name: 'Create job' }).click();
    await form
      .getByRole('alert')
      .filter({ hasText: "inside the account's source directory" })
      .waitFor();
    await form.getByLabel('JSON file').fill('people.json');
    await form.getByRole('button', { name: 'Create job' }).click();
    await page.getByRole('heading', { level: 1, name: 'Job people' }).waitFor();
    const view = (await admin('GET', '/sync/jobs/people')).body;
    expect(view.source).toEqual({ type: 'json', path: 'people.json' });
    expect(view.target).toEqual({
      url: `${origin}/api/v1/scim/azure/${accountId}`,
      dialect: 'rfc',
    });
    expect(view.scheduleMinutes).toBe(40);

    await page.getByRole('link', { name: 'All provisioning jobs' }).click();
    const row = page.getByRole('row').filter({ hasText: 'people' });
    await row.getByText('Healthy').waitFor();
    await row.getByText('Never run').waitFor();
    await row.getByText('JSON source, every 40 min').waitFor();
    await axe('provisioning jobs');
  });

  it('previews the impact of the first cycle, with per-object diffs, and sends nothing', async () => {
    await page.getByRole('link', { name: 'people', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Job people' }).waitFor();
    await section('Last cycle').getByText('The job has not run yet.').waitFor();
    await page.getByRole('button', { name: 'Preview impact' }).click();
    const preview = section('Impact preview');
    await preview
      .getByRole('status')
      .filter({ hasText: 'Next initial cycle: creates 5' })
      .waitFor();
    await preview.getByText('Create user u-ada').click();
    const diff = preview.getByRole('table', { name: 'Modified properties' }).first();
    await diff.getByRole('row', { name: /userName.*ada@acme\.example/ }).waitFor();
    await preview.getByText('POST /Users').first().waitFor();
    expect(await userNames()).toEqual([]);
    await axe('job page with a preview');
    await shot('sync-job-preview');
  });

  it('runs the job: a progress bar counted in objects, then the last cycle counts', async () => {
    gate = { pass: 1, seen: 0, held: [] };
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    const progress = section('Cycle in progress');
    await progress.getByRole('progressbar').waitFor();
    await progress
      .getByRole('status')
      .filter({ hasText: /^1 of 5 objects, about/ })
      .waitFor();
    expect(await progress.getByRole('progressbar').getAttribute('value')).toBe('1');
    expect(await progress.getByRole('progressbar').getAttribute('max')).toBe('5');
    await page.getByText('Running', { exact: true }).waitFor();
    await axe('job page while running');
    await shot('sync-job-running');
    release();

    const last = section('Last cycle');
    await last.getByText('initial cycle, succeeded').waitFor({ timeout: 30_000 });
    await expect.poll(() => progress.count()).toBe(0);
    const users = last.getByRole('row', { name: /^Users/ });
    expect(await users.getByRole('cell').allTextContents()).toEqual(['4']);
    expect(await last.getByRole('columnheader').allTextContents()).toEqual([
      'Object type',
      'Create',
    ]);
    await last.getByText('u-nameless').waitFor();
    expect(await userNames()).toEqual([
      'ada@acme.example',
      'alan@acme.example',
      'edsger@acme.example',
      'grace@acme.example',
    ]);
  }, 60_000);

  it("opens a failed object's log entry: its steps and the target's error", async () => {
    const log = section('Provisioning log');
    await log.getByLabel('Status').selectOption('failure');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    const rows = log.getByRole('row').filter({ hasText: 'u-' });
    await expect.poll(() => rows.count()).toBe(1);
    await rows.getByText('Failed').waitFor();
    await log.getByRole('button', { name: 'Details of user u-nameless (create)' }).click();
    await log.getByRole('list', { name: 'Steps of u-nameless' }).waitFor();
    await log.getByText(/Target error: .*userName/).waitFor();
    await log.getByText(/answered 400/).waitFor();
    await log.getByText(/Next retry: /).waitFor();
    // The raw request and response, collapsed until opened; the token never shown.
    const rawRequest = log.getByRole('region', { name: 'Raw request' });
    const rawResponse = log.getByRole('region', { name: 'Raw response' });
    expect(await rawRequest.isVisible()).toBe(false);
    await log.getByText('Request', { exact: true }).click();
    await expect.poll(() => rawRequest.textContent()).toMatch(/^POST http:\/\/\S+\/Users\n/);
    const requestText = (await rawRequest.textContent())!;
    expect(requestText).toContain('authorization: Bearer [redacted]');
    expect(requestText).toContain('"externalId": "u-nameless"');
    expect(requestText).not.toContain(scimToken);
    await log.getByText('Response', { exact: true }).click();
    await expect.poll(() => rawResponse.textContent()).toMatch(/^HTTP 400\n/);
    expect(await rawResponse.textContent()).toContain('"scimType": "invalidValue"');
    await axe('job log with a failed entry');
    await shot('sync-job-log-failure');

    await log.getByLabel('Status').selectOption('');
    await log.getByLabel('Action').selectOption('create');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => rows.count()).toBe(5);
    await log.getByRole('button', { name: 'Details of user u-ada (create)' }).click();
    await log
      .getByRole('table', { name: 'Modified properties' })
      .getByRole('row', { name: /displayName.*Ada Lovelace/ })
      .waitFor();

    // Export: the links carry the filters shown; the download is the filtered log.
    const csvLink = log.getByRole('link', { name: 'Export CSV' });
    const href = (await csvLink.getAttribute('href'))!;
    expect(href).toContain(`/sync/jobs/people/log/export?`);
    expect(new URL(href, origin).searchParams.get('action')).toBe('create');
    expect(new URL(href, origin).searchParams.get('format')).toBe('csv');
    const csv = await page.request.get(new URL(href, origin).toString());
    expect(csv.status()).toBe(200);
    const lines = (await csv.text()).split('\r\n').filter((l) => l !== '');
    expect(lines[0]).toMatch(/^id,at,cycle,objectType,sourceId,/);
    expect(lines.slice(1).filter((l) => l.includes(',user,u-'))).toHaveLength(5);
    expect(lines.slice(1).every((l) => l.includes(',create,'))).toBe(true);
    const jsonHref = (await log.getByRole('link', { name: 'Export JSON' }).getAttribute('href'))!;
    const json = await page.request.get(new URL(jsonHref, origin).toString());
    const exported = (await json.json()) as { entries: { action: string; cycleId: string }[] };
    expect(exported.entries.length).toBe(lines.length - 1);

    // The cycle filter: the entries of the cycle shown in an entry's details, or none.
    const cycle = exported.entries[0]!.cycleId;
    await log.getByText(`Cycle ${cycle}`).first().waitFor();
    await log.getByRole('button', { name: 'Details of user u-ada (create)' }).click();
    await expect.poll(() => rows.count()).toBe(5);
    await log.getByLabel('Cycle ID').fill(cycle);
    await log.getByRole('button', { name: 'Apply filters' }).click();
    await expect
      .poll(async () =>
        new URL((await csvLink.getAttribute('href'))!, origin).searchParams.get('cycle'),
      )
      .toBe(cycle);
    await expect.poll(() => rows.count()).toBe(5);
    await log.getByLabel('Cycle ID').fill('no-such-cycle');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    await log.getByText('No entries match.').waitFor();
    await log.getByLabel('Cycle ID').fill('');
    await log.getByLabel('Action').selectOption('');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => rows.count()).toBeGreaterThan(0);
  });

  it('provisions one user on demand: the five steps with their details', async () => {
    source([
      ...people,
      { objectId: 'u-barbara', userPrincipalName: 'barbara@acme.example', displayName: 'B. L.' },
    ]);
    const panel = section('Provision on demand');
    await panel.getByLabel('Source ID').fill('u-barbara');
    await panel.getByRole('button', { name: 'Provision' }).click();
    const steps = panel.getByRole('list', { name: 'On-demand steps' });
    await steps.waitFor();
    expect(await steps.getByRole('listitem').locator('strong').allTextContents()).toEqual([
      'Test connection',
      'Import from the source',
      'Scope evaluation',
      'Matching',
      'Action',
    ]);
    const action = steps.getByRole('listitem').last();
    await action.getByText('success', { exact: true }).waitFor();
    await action.getByText('Details of Action').click();
    await action.getByText(/barbara@acme\.example/).waitFor();
    expect(await userNames()).toContain('barbara@acme.example');
    await axe('provision on demand');
    await shot('sync-job-on-demand');
  });

  it('stages the deletes of a source emptied by mistake; Allow deletes runs them', async () => {
    source([]);
    const before = (await admin('GET', '/sync/jobs/people')).body.lastCycle.id as string;
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    const banner = main().getByRole('region', { name: 'Deletes staged: the job is paused' });
    await banner.waitFor({ timeout: 30_000 });
    await banner.getByText(/delete 5 objects, more than the threshold of 2/).waitFor();
    expect((await admin('GET', '/sync/jobs/people')).body.lastCycle.id).not.toBe(before);
    expect(await userNames()).toHaveLength(5);
    const log = section('Provisioning log');
    await log.getByLabel('Status').selectOption('');
    await log.getByLabel('Action').selectOption('stagedDelete');
    await log.getByRole('button', { name: 'Apply filters' }).click();
    const staged = log.getByRole('row').filter({ hasText: 'Staged delete' });
    await expect.poll(() => staged.count()).toBe(5);
    const skipped = staged.first().getByText('Skipped', { exact: true });
    await skipped.waitFor();
    // On screen (a class shared with the skip link once hid it off the left edge).
    expect((await skipped.boundingBox())!.x).toBeGreaterThan(0);
    await page.getByText('Paused: 5 staged deletes').waitFor();
    await axe('staged deletes');
    await shot('sync-job-staged-deletes');

    await page
      .getByRole('navigation', { name: 'Console' })
      .getByRole('link', { name: 'Provisioning jobs', exact: true })
      .click();
    const row = page.getByRole('row').filter({ hasText: 'people' });
    await row.getByText('Paused: 5 staged deletes').waitFor();
    await row.getByText('Waits for allowed deletes').waitFor();
    await shot('sync-jobs');
    await page.getByRole('link', { name: 'people', exact: true }).click();

    await banner.getByRole('button', { name: 'Allow deletes' }).click();
    await banner.waitFor({ state: 'detached', timeout: 30_000 });
    const last = section('Last cycle');
    await last.getByRole('columnheader', { name: 'Delete' }).waitFor({ timeout: 30_000 });
    expect(
      await last
        .getByRole('row', { name: /^Users/ })
        .getByRole('cell')
        .allTextContents(),
    ).toEqual(['5']);
    expect(await userNames()).toEqual([]);
    await page.getByText('Healthy', { exact: true }).waitFor();
  }, 90_000);

  it('restarts with a confirmation and the full-reset choice', async () => {
    source(people.slice(0, 2));
    await page.getByRole('button', { name: 'Restart', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Restart job people?' });
    await dialog.waitFor();
    await dialog.getByLabel(/Full reset/).check();
    await axe('restart dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Restart', exact: true }).click();
    await dialog.getByRole('button', { name: 'Restart job' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Restarted: a full cycle started.' })
      .waitFor();
    const last = section('Last cycle');
    await last
      .getByRole('row', { name: /^Users/ })
      .getByRole('cell')
      .first()
      .filter({ hasText: '2' })
      .waitFor({ timeout: 30_000 });
    expect(await userNames()).toEqual(['ada@acme.example', 'alan@acme.example']);
  }, 60_000);

  it('shows a quarantine with its reason and fix; a new token and Restart clear it', async () => {
    const job = (token: string) => ({
      source: { type: 'json', path: 'people.json' },
      target: {
        url: `${origin}/api/v1/scim/azure/${accountId}`,
        token,
        dialect: 'rfc',
      },
      deletionThreshold: 2,
    });
    source(people.slice(0, 3));
    await revokeToken(server.stores, accountId, scimTokenId);
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    const banner = main().getByRole('region', { name: /^Quarantined since/ });
    await banner.waitFor({ timeout: 30_000 });
    await banner.getByText(/EncounteredQuarantineException/).waitFor();
    await banner.getByText(/Give the job a valid SCIM token/).waitFor();
    await page.getByText('Quarantined', { exact: true }).waitFor();
    await axe('quarantine');
    await shot('sync-job-quarantine');

    const issued = await issueToken(server.stores, {
      accountId,
      type: 'scim',
      name: 'engine 2',
    });
    scimToken = issued.token;
    expect((await admin('PUT', '/sync/jobs/people', job(scimToken))).status).toBe(200);
    await page.getByRole('button', { name: 'Restart', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Restart job people?' });
    await dialog.getByRole('button', { name: 'Restart job' }).click();
    await banner.waitFor({ state: 'detached', timeout: 30_000 });
    await section('Last cycle')
      .getByText(/cycle, succeeded/)
      .waitFor({ timeout: 30_000 });
    await expect.poll(userNames, { timeout: 30_000 }).toContain('grace@acme.example');
    await page.getByText('Healthy', { exact: true }).waitFor();
  }, 90_000);

  it('edits the job settings: schedule, notification e-mail, deletion threshold, rate', async () => {
    const settings = section('Job settings');
    const before = (await (
      await page.request.get(`${origin}/api/v1/admin/accounts/${accountId}/sync/jobs/people`)
    ).json()) as { deletionThreshold: number | null; mappings: unknown; target: object };
    await settings.getByLabel('Minutes between cycles').fill('1441');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    // The browser refuses out of range before sending: nothing saved.
    expect(
      await settings
        .getByLabel('Minutes between cycles')
        .evaluate(
          (el) =>
            (el as unknown as { validity: { rangeOverflow: boolean } }).validity.rangeOverflow,
        ),
    ).toBe(true);
    await settings.getByLabel('Minutes between cycles').fill('90');
    await settings.getByLabel('Notification e-mail').fill('ops@acme.example, it@acme.example');
    await settings.getByLabel('Deletion threshold').fill('12');
    await settings.getByLabel('Maximum requests per second').fill('50');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.getByRole('status').getByText('Settings saved.').waitFor();
    await main()
      .getByText(/every 90 min/)
      .waitFor();

    const after = (await (
      await page.request.get(`${origin}/api/v1/admin/accounts/${accountId}/sync/jobs/people`)
    ).json()) as Record<string, unknown> & { target: Record<string, unknown> };
    expect(after).toMatchObject({
      scheduleMinutes: 90,
      deletionThreshold: 12,
      notify: { email: ['ops@acme.example', 'it@acme.example'] },
      target: { ...before.target, maxRequestsPerSecond: 50 },
      mappings: before.mappings,
    });
    expect(before.deletionThreshold).not.toBe(12);

    // After a reload the form shows what was saved; an emptied threshold and rate are removed.
    await page.reload();
    await section('Job settings').getByLabel('Deletion threshold').waitFor();
    expect(await settings.getByLabel('Minutes between cycles').inputValue()).toBe('90');
    expect(await settings.getByLabel('Notification e-mail').inputValue()).toBe(
      'ops@acme.example, it@acme.example',
    );
    expect(await settings.getByLabel('Maximum requests per second').inputValue()).toBe('50');
    await settings.getByLabel('Maximum requests per second').fill('');
    await settings.getByLabel('Deletion threshold').fill(String(before.deletionThreshold ?? ''));
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.getByRole('status').getByText('Settings saved.').waitFor();
    const restored = (await (
      await page.request.get(`${origin}/api/v1/admin/accounts/${accountId}/sync/jobs/people`)
    ).json()) as { deletionThreshold: number | null; target: Record<string, unknown> };
    expect(restored.target).not.toHaveProperty('maxRequestsPerSecond');
    expect(restored.deletionThreshold).toBe(before.deletionThreshold);
    await axe('job settings');
  });

  it('stops a running cycle with Stop; the cycle ends stopped', async () => {
    const current = JSON.parse(readFileSync(join(dir, accountId, 'people.json'), 'utf8')) as {
      users: SourceUser[];
    };
    source([
      ...current.users,
      { objectId: 'u-stop1', userPrincipalName: 'stop1@acme.example' },
      { objectId: 'u-stop2', userPrincipalName: 'stop2@acme.example' },
    ]);
    gate = { pass: 0, seen: 0, held: [] };
    const stop = page.getByRole('button', { name: 'Stop', exact: true });
    expect(await stop.isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.getByText('Running', { exact: true }).waitFor();
    await expect.poll(() => stop.isEnabled()).toBe(true);
    await stop.click();
    await main()
      .getByRole('status')
      .getByText(/^Stopping/)
      .waitFor();
    release();
    await section('Last cycle')
      .getByText(/cycle, stopped/)
      .waitFor({ timeout: 30_000 });
    await expect.poll(() => stop.isDisabled()).toBe(true);
    const view = (await (
      await page.request.get(`${origin}/api/v1/admin/accounts/${accountId}/sync/jobs/people`)
    ).json()) as { lastCycle: { status: string } };
    expect(view.lastCycle.status).toBe('stopped');
  }, 60_000);

  it('is reachable by keyboard and works at 390 px wide', async () => {
    await page.goto(page.url());
    await page.getByRole('heading', { level: 1, name: 'Job people' }).waitFor();
    const seen: string[] = [];
    for (let i = 0; i < 600 && !seen.includes('Preview impact'); i++) {
      await page.keyboard.press('Tab');
      seen.push(
        await page.evaluate<string>(
          `(document.activeElement?.getAttribute('aria-label') || document.activeElement?.textContent || '').trim()`,
        ),
      );
    }
    expect(seen).toContain('Provisioning jobs');
    expect(seen).toContain('Start');
    expect(seen).toContain('Restart');
    expect(seen).toContain('Preview impact');

    await page.setViewportSize({ width: 390, height: 844 });
    for (const [heading, name] of [
      ['Job people', 'sync-job-390'],
      ['Provisioning jobs', 'sync-jobs-390'],
    ] as const) {
      if (heading === 'Provisioning jobs')
        await page
          .getByRole('navigation', { name: 'Console' })
          .getByRole('link', { name: 'Provisioning jobs', exact: true })
          .click();
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      );
      expect(overflow, `${heading} scrolls sideways at 390 px`).toBeLessThanOrEqual(0);
      await axe(`${heading} at 390 px`);
      await shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(violations).toEqual([]);
  });

  it('edits the mappings (an expression checked as typed, previewed on a source user) and the scoping', async () => {
    source(people);
    await page.getByRole('link', { name: 'people', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Job people' }).waitFor();
    const editor = main().getByRole('region', { name: 'User mappings', exact: true });
    // A job on the defaults shows the mappings the engine applies, as editable rows.
    await editor.getByText("This job runs Entra's default mappings").waitFor();
    const userRows = editor.getByRole('table', { name: 'User mappings' }).getByRole('row');
    await expect.poll(() => userRows.count()).toBe(DEFAULT_MAPPINGS.user.length + 1);
    expect(await editor.getByLabel('Target attribute of row 1', { exact: true }).inputValue()).toBe(
      'userName',
    );
    expect(await editor.getByLabel('Source attribute of userName').inputValue()).toBe(
      'userPrincipalName',
    );
    expect(await editor.getByLabel('Matching precedence of userName').inputValue()).toBe('1');
    expect(await editor.getByLabel('Source attribute of title').inputValue()).toBe('jobTitle');
    // Edit the title mapping from what runs: an expression instead of jobTitle.
    await editor.getByLabel('Type of title').selectOption('expression');
    const expression = editor.getByLabel('Expression of title', { exact: true });
    // A broken expression: the engine's parser answers with the column.
    await expression.fill('Join(" - ", [displayName]');
    await editor
      .getByRole('alert')
      .filter({ hasText: /^Column 26: / })
      .waitFor();
    expect(await expression.getAttribute('aria-invalid')).toBe('true');
    // Saving it anyway is refused with the API's message.
    await editor.getByRole('button', { name: 'Save mappings' }).click();
    await editor
      .getByRole('alert')
      .filter({ hasText: 'column 26' })
      .filter({ hasText: 'title' })
      .waitFor();
    expect((await admin('GET', '/sync/jobs/people')).body.mappings).toBeNull();

    await expression.fill('Join(" - ", [displayName], [userPrincipalName])');
    await editor.getByLabel('Apply title').selectOption('create');
    await editor.getByLabel('Preview on user').fill('u-ada');
    await editor
      .getByRole('status', { name: 'Preview of Expression of title' })
      .filter({ hasText: 'Ada Lovelace - ada@acme.example' })
      .waitFor();
    expect(await editor.getByRole('alert').count()).toBe(0);
    await axe('mappings editor');
    await shot('sync-job-mappings');
    await editor.getByRole('button', { name: 'Save mappings' }).click();
    await editor.getByRole('status').filter({ hasText: 'Mappings saved.' }).waitFor();
    const view = (await admin('GET', '/sync/jobs/people')).body;
    expect(view.mappings.user).toEqual(
      DEFAULT_MAPPINGS.user.map((m) =>
        m.target === 'title'
          ? {
              type: 'expression',
              target: 'title',
              expression: 'Join(" - ", [displayName], [userPrincipalName])',
              apply: 'create',
            }
          : m,
      ),
    );
    expect(view.mappings.group).toEqual(DEFAULT_MAPPINGS.group);
    expect(view.deletionThreshold).toBe(2);

    // Group mappings: the same editor and expression validation, saved through the same PUT.
    const groups = main().getByRole('region', { name: 'Group mappings', exact: true });
    const groupRows = groups.getByRole('table', { name: 'Group mappings' }).getByRole('row');
    await expect.poll(() => groupRows.count()).toBe(DEFAULT_MAPPINGS.group.length + 1);
    await groups.getByLabel('Type of displayName').selectOption('expression');
    const groupExpression = groups.getByLabel('Expression of displayName', { exact: true });
    await groupExpression.fill('Append([displayName], " (Acme)"');
    await groups
      .getByRole('alert')
      .filter({ hasText: /^Column \d+: / })
      .waitFor();
    expect(await groupExpression.getAttribute('aria-invalid')).toBe('true');
    await groupExpression.fill('Append([displayName], " (Acme)")');
    await expect.poll(() => groupExpression.getAttribute('aria-invalid')).toBe('false');
    await groups.getByRole('button', { name: 'Save group mappings' }).click();
    await groups.getByRole('status').filter({ hasText: 'Group mappings saved.' }).waitFor();
    const grouped = (await admin('GET', '/sync/jobs/people')).body;
    expect(grouped.mappings.group[0]).toEqual({
      type: 'expression',
      target: 'displayName',
      expression: 'Append([displayName], " (Acme)")',
      matching: 1,
    });
    expect(grouped.mappings.user).toEqual(view.mappings.user);

    // From here saving needs a preview: the job setting, saved with the other settings.
    const settings = section('Job settings');
    await settings.getByLabel('Require a preview before saving changes').check();
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
    expect((await admin('GET', '/sync/jobs/people')).body.requirePreview).toBe(true);

    // Scoping: clauses ANDed within a filter, filters ORed, saved with the job.
    const scoping = main().getByRole('region', { name: 'User scoping', exact: true });
    await scoping.getByRole('button', { name: 'Add filter' }).click();
    await scoping.getByLabel('Attribute of filter 1 clause 1').fill('userPrincipalName');
    await scoping.getByLabel('Operator of filter 1 clause 1').selectOption('ENDS_WITH');
    await scoping.getByLabel('Value of filter 1 clause 1').fill('@acme.example');
    await scoping.getByRole('button', { name: 'Add clause to filter 1' }).click();
    await scoping.getByLabel('Attribute of filter 1 clause 2').fill('displayName');
    await scoping.getByLabel('Operator of filter 1 clause 2').selectOption('IS NOT NULL');
    expect(await scoping.getByLabel('Value of filter 1 clause 2').count()).toBe(0);
    await scoping.getByRole('button', { name: 'Add filter' }).click();
    await scoping.getByLabel('Attribute of filter 2 clause 1').fill('objectId');
    await scoping.getByLabel('Value of filter 2 clause 1').fill('u-nameless');
    await axe('scoping editor');
    // Save is "Preview and save": the impact first, nothing saved until Confirm.
    expect(await scoping.getByRole('button', { name: 'Save scoping' }).count()).toBe(0);
    await scoping.getByRole('button', { name: 'Preview and save' }).click();
    const impact = scoping.getByRole('group', { name: 'Impact of this change' });
    await impact
      .getByRole('status')
      .filter({ hasText: /cycle: / })
      .waitFor();
    await impact.getByRole('table', { name: 'Planned counts per action' }).waitFor();
    expect((await admin('GET', '/sync/jobs/people')).body.scope).toBeNull();
    await axe('scoping change preview');
    await shot('sync-job-preview-and-save');
    await impact.getByRole('button', { name: 'Confirm' }).click();
    await scoping.getByRole('status').filter({ hasText: 'Scoping saved.' }).waitFor();
    const scoped = (await admin('GET', '/sync/jobs/people')).body;
    expect(scoped.scope.userFilters).toEqual([
      [
        { attribute: 'userPrincipalName', operator: 'ENDS_WITH', value: '@acme.example' },
        { attribute: 'displayName', operator: 'IS NOT NULL' },
      ],
      [{ attribute: 'objectId', operator: 'EQUALS', value: 'u-nameless' }],
    ]);
    // The mappings saved before stay, and so does the requirement.
    expect(scoped.mappings.user).toEqual(view.mappings.user);
    expect(scoped.requirePreview).toBe(true);

    // Group scoping, previewed and saved the same way; the user filters stay.
    const groupScoping = main().getByRole('region', { name: 'Group scoping', exact: true });
    await groupScoping.getByRole('button', { name: 'Add filter' }).click();
    await groupScoping.getByLabel('Attribute of filter 1 clause 1').fill('displayName');
    await groupScoping.getByLabel('Operator of filter 1 clause 1').selectOption('STARTS_WITH');
    await groupScoping.getByLabel('Value of filter 1 clause 1').fill('Eng');
    await groupScoping.getByRole('button', { name: 'Preview and save' }).click();
    const groupImpact = groupScoping.getByRole('group', { name: 'Impact of this change' });
    await groupImpact
      .getByRole('status')
      .filter({ hasText: /cycle: / })
      .waitFor();
    // An edit after the preview hides it: the preview was of another change.
    await groupScoping.getByLabel('Value of filter 1 clause 1').fill('Engineering');
    await expect.poll(() => groupImpact.count()).toBe(0);
    await groupScoping.getByRole('button', { name: 'Preview and save' }).click();
    await groupImpact.getByRole('button', { name: 'Confirm' }).click();
    await groupScoping.getByRole('status').filter({ hasText: 'Group scoping saved.' }).waitFor();
    const both = (await admin('GET', '/sync/jobs/people')).body;
    expect(both.scope.groupFilters).toEqual([
      [{ attribute: 'displayName', operator: 'STARTS_WITH', value: 'Engineering' }],
    ]);
    expect(both.scope.userFilters).toEqual(scoped.scope.userFilters);
    await page.getByRole('link', { name: 'All provisioning jobs' }).click();
    await page.getByRole('heading', { level: 1, name: 'Provisioning jobs' }).waitFor();
    expect(violations).toEqual([]);
  }, 120_000);

  it('deletes the job after a confirmation; the users it provisioned stay', async () => {
    await page.getByRole('link', { name: 'people', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Job people' }).waitFor();
    await page.getByRole('button', { name: 'Delete job' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete job people?' });
    await dialog.getByRole('button', { name: 'Delete job' }).click();
    await page.getByRole('heading', { level: 1, name: 'Provisioning jobs' }).waitFor();
    await main().getByText('No provisioning job yet.').waitFor();
    expect((await admin('GET', '/sync/jobs/people')).status).toBe(404);
    expect(await userNames()).toContain('grace@acme.example');
    expect(violations).toEqual([]);
  });
});
