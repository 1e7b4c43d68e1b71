import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { issueToken } from '../../src/app/tokens.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The admin console in real Chromium (Debian's /usr/bin/chromium through playwright-core;
 * no browser is ever downloaded), against a real Roster server: the seed's flow from
 * sign-in to a revoked token's refused request in the provisioning log.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'docs', 'console');
const PASSWORD = 'correct horse battery';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

describe('admin console in Chromium', () => {
  let server: TestServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let accountId: string;
  let usAccountId: string;
  let receiver: Server;
  const violations: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `${CHROMIUM} is missing: the console tests need Debian's chromium package (apt-get install -y chromium). No browser is downloaded.`,
      );
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Two data-center hosts on one server: 127.0.0.1 is the EU host, localhost the US one.
    server = await startTestServer('sqlite', {
      regions: (port) => `eu=http://127.0.0.1:${port},us=http://localhost:${port}`,
      webhooks: true,
    });
    // A webhook receiver that is down: every delivery gets a 500.
    receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(500).end('receiver down'));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const account = await createAccount(server.stores, { name: 'Acme' });
    accountId = account.id;
    await createAdmin(server.stores, {
      accountId,
      email: 'it-admin@acme.example',
      password: PASSWORD,
    });
    // The same person also administers Globex: they pick the account after signing in.
    const globex = await createAccount(server.stores, { name: 'Globex' });
    await createAdmin(server.stores, {
      accountId: globex.id,
      email: 'it-admin@acme.example',
      password: PASSWORD,
    });
    // ...and Initech, whose account lives in the US data center.
    const initech = await createAccount(server.stores, { name: 'Initech', region: 'us' });
    usAccountId = initech.id;
    await createAdmin(server.stores, {
      accountId: usAccountId,
      email: 'it-admin@acme.example',
      password: PASSWORD,
    });
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
    context.setDefaultTimeout(10_000);
    page = context.pages()[0] ?? (await context.newPage());
    // Nothing may be fetched from another host (no CDN, no web fonts).
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== server.origin && url.protocol !== 'data:')
        violations.push(`request to another host: ${request.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/.test(message.text()))
        violations.push(`CSP: ${message.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  /** axe-core, evaluated in the page: no serious or critical violation. */
  async function axe(name: string): Promise<void> {
    await page.evaluate(axeSource);
    const found = await page.evaluate<string[]>(`axe.run().then((result) =>
      result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => v.id + ' (' + v.impact + ') at ' + JSON.stringify(v.nodes.map((n) => n.target)) + ': ' + v.help))`);
    expect(found, `axe on ${name}`).toEqual([]);
  }

  async function nav(label: string): Promise<void> {
    if (process.env['ROSTER_DEBUG_SHOTS'] === '1')
      await page.screenshot({ path: join(tmpdir(), `roster-nav-${label}.png`) });
    await page
      .getByRole('navigation', { name: 'Console' })
      .getByRole('link', { name: label, exact: true })
      .click();
    await page
      .getByRole('heading', { level: 1, name: label === 'API Tokens' ? 'API Tokens' : label })
      .waitFor();
  }

  let token = '';
  let tenantUrl = '';
  const ids: Record<string, string> = {};

  async function scim(method: string, path: string, body?: unknown) {
    const response = await fetch(`${tenantUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  it('signs in with e-mail and password, from the root URL', async () => {
    await page.goto(`${server.origin}/`);
    await page.waitForURL(/\/console\/sign-in$/);
    await page.getByRole('heading', { name: 'Sign in to Roster' }).waitFor();
    await axe('sign-in');
    await shot('sign-in');
    await page.getByLabel('Email').fill('it-admin@acme.example');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Choose an account' }).waitFor();
    await page.getByRole('button', { name: /Globex/ }).waitFor();
    await axe('account picker');
    await shot('account-picker');
    await page.getByRole('button', { name: /Acme/ }).click();
    await page.getByRole('heading', { level: 1, name: 'API Tokens' }).waitFor();
    await page.getByRole('link', { name: 'Switch account' }).waitFor();
    expect(page.url()).toContain(`/console/a/${accountId}/settings/api-tokens`);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'roster_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
  });

  it('issues a SCIM token on Settings > Configuration > API Tokens, shown once with Copy', async () => {
    await page
      .getByLabel('Breadcrumb')
      .getByText('Settings › Configuration › API Tokens')
      .waitFor();
    const accountField = page.getByRole('textbox', { name: 'Account ID' });
    await accountField.waitFor();
    expect(await accountField.inputValue()).toBe(accountId);
    tenantUrl = await page.getByRole('textbox', { name: 'Tenant URL' }).inputValue();
    expect(tenantUrl).toBe(`${server.origin}/api/v1/scim/azure/${accountId}`);
    await page.getByRole('button', { name: 'Copy Account ID' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied' }).first().waitFor();

    await page.getByRole('button', { name: 'Issue Token' }).click();
    await page.getByRole('radio', { name: /^SCIM/ }).check();
    await page.getByRole('textbox', { name: 'Name' }).fill('Entra');
    await axe('issue token form');
    await page.getByRole('button', { name: 'Generate API Token' }).click();
    const field = page.getByRole('textbox', { name: 'Token', exact: true });
    await field.waitFor();
    token = await field.inputValue();
    expect(token).toMatch(/^rst_/);
    expect(await field.getAttribute('readonly')).not.toBeNull();
    await page.getByText('it will not be shown again').waitFor();
    await page.getByRole('button', { name: 'Copy Token' }).click();
    expect(page.url()).not.toContain(token); // never in the URL or history
    const row = page.getByRole('row').filter({ hasText: 'Entra' });
    await row.getByText('SCIM').waitFor();
    await row.getByText('it-admin@acme.example').waitFor();
    await row.getByText('Active').waitFor();
    await axe('api tokens');
    await shot('api-tokens');
  });

  it('sends Entra-shaped SCIM requests with the copied token', async () => {
    const user = (userName: string, given: string, family: string, extra: object = {}) => ({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
      externalId: userName.split('@')[0],
      userName,
      active: true,
      displayName: `${given} ${family}`,
      name: { givenName: given, familyName: family, formatted: `${given} ${family}` },
      emails: [{ type: 'work', value: userName, primary: true }],
      title: 'Engineer',
      [ENTERPRISE]: { department: 'Engineering', ...extra },
    });
    const maria = await scim('POST', '/Users', user('maria@acme.example', 'Maria', 'Manager'));
    expect(maria.status).toBe(201);
    ids.maria = maria.body.id;
    for (const [key, given, family] of [
      ['jane', 'Jane', 'Doe'],
      ['john', 'John', 'Roe'],
    ] as const) {
      const created = await scim(
        'POST',
        '/Users',
        user(`${key}@acme.example`, given, family, { manager: { value: ids.maria } }),
      );
      expect(created.status).toBe(201);
      ids[key] = created.body.id;
    }
    const team = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Platform Team',
      externalId: 'platform',
      members: [{ value: ids.jane }, { value: ids.john }],
    });
    expect(team.status).toBe(201);
    ids.team = team.body.id;
    // Entra's membership change: one PATCH adding Maria and removing John.
    const members = await scim('PATCH', `/Groups/${ids.team}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [
        { op: 'Add', path: 'members', value: [{ value: ids.maria }] },
        { op: 'Remove', path: `members[value eq "${ids.john}"]` },
      ],
    });
    expect([200, 204]).toContain(members.status);
    // Entra's update and deactivation: PATCH with capitalised ops and "False" as a string.
    const retitle = await scim('PATCH', `/Users/${ids.jane}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'title', value: 'Senior Engineer' }],
    });
    expect(retitle.status).toBe(200);
    const deactivate = await scim('PATCH', `/Users/${ids.john}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(deactivate.status).toBe(200);
  });

  it('finds them on the Users page and a user page with manager, teams and history', async () => {
    await nav('Users');
    await page.getByRole('link', { name: 'Jane Doe' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search' }).fill('john');
    await page.getByRole('combobox', { name: 'Status' }).selectOption('deactivated');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1–1 of 1 users').waitFor();
    await page.getByRole('row').filter({ hasText: 'John Roe' }).getByText('Deactivated').waitFor();
    await axe('users');
    await page.getByRole('searchbox', { name: 'Search' }).fill('jane');
    await page.getByRole('combobox', { name: 'Status' }).selectOption('all');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1–1 of 1 users').waitFor();
    await shot('users');
    await page.getByRole('link', { name: 'Jane Doe' }).click();
    await page.getByRole('heading', { level: 1, name: 'Jane Doe' }).waitFor();
    await page.getByRole('link', { name: 'Maria Manager' }).waitFor();
    await page.getByRole('link', { name: 'Platform Team' }).first().waitFor();
    // The history shows the change as before/after.
    const diff = page.getByRole('row').filter({ hasText: 'title' }).first();
    await diff.getByText('Engineer', { exact: true }).waitFor();
    await diff.getByText('Senior Engineer').waitFor();
    await axe('user');
    await shot('user');
    await page.getByRole('link', { name: 'Maria Manager' }).click();
    await page.getByRole('heading', { level: 1, name: 'Maria Manager' }).waitFor();
    await page.getByRole('heading', { name: 'Direct reports (2)' }).waitFor();
  });

  it('shows the team with its members on the Teams pages', async () => {
    await nav('Teams');
    const row = page.getByRole('row').filter({ hasText: 'Platform Team' });
    await row.getByText('Identity provider').waitFor();
    expect(await row.getByRole('cell').nth(2).innerText()).toBe('2');
    await axe('teams');
    await shot('teams');
    await row.getByRole('link', { name: 'Platform Team' }).click();
    await page.getByRole('heading', { level: 1, name: 'Platform Team' }).waitFor();
    const members = page
      .getByRole('region', { name: 'Members' })
      .or(page.locator('section', { has: page.getByRole('heading', { name: 'Members' }) }));
    await members.getByRole('link', { name: 'Jane Doe' }).waitFor();
    await members.getByRole('link', { name: 'Maria Manager' }).waitFor();
    expect(await members.getByRole('link', { name: 'John Roe' }).count()).toBe(0);
    await axe('team');
    await shot('team');
  });

  it('draws the org chart with lazily opened levels and finds a person', async () => {
    await nav('Org chart');
    const open = page.getByRole('button', { name: 'Show 1 reports of Maria Manager' });
    await open.waitFor(); // John is deactivated: one active report
    expect(await open.getAttribute('aria-expanded')).toBe('false');
    await open.click();
    await page.getByRole('link', { name: 'Jane Doe' }).waitFor();
    await page.getByRole('button', { name: 'Hide 1 reports of Maria Manager' }).click();
    await page.getByRole('link', { name: 'Jane Doe' }).waitFor({ state: 'detached' });
    await page.getByRole('searchbox', { name: 'Find a person' }).fill('jane');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('button', { name: 'Show Jane Doe in the chart' }).click();
    await page.getByRole('link', { name: 'Jane Doe' }).waitFor();
    await axe('org chart');
    await shot('org-chart');
  });

  it('explains every request in the provisioning log, with health, chart and export', async () => {
    await nav('Provisioning log');
    await page
      .getByRole('status')
      .filter({ hasText: /Last request .* ago; 0 failures in 24 h/ })
      .waitFor();
    await page.getByRole('img', { name: /Requests and failures per hour/ }).waitFor();
    await page.getByText("SCIM token 'Entra' deactivated john@acme.example").waitFor();
    await page.getByText("SCIM token 'Entra' created user maria@acme.example").waitFor();
    await page.getByText("SCIM token 'Entra' created team Platform Team").waitFor();
    const row = page.getByRole('row').filter({ hasText: 'updated user jane@acme.example' });
    await row.getByRole('button', { name: 'Details' }).click();
    await row.getByText('Change: patch of title').waitFor();
    const line = row.getByRole('row').filter({ hasText: 'title' });
    await line.getByRole('cell', { name: 'Engineer', exact: true }).waitFor();
    await line.getByRole('cell', { name: 'Senior Engineer' }).waitFor();
    // A team's change as a before/after: John left, Maria joined.
    const teamRow = page.getByRole('row').filter({ hasText: 'updated team Platform Team' });
    await teamRow.getByRole('button', { name: 'Details' }).click();
    const joined = teamRow.getByRole('row').filter({ hasText: 'maria@acme.example' });
    await joined.getByRole('rowheader', { name: 'members' }).waitFor();
    expect(await joined.getByRole('cell').nth(0).innerText()).toBe('—');
    const left = teamRow.getByRole('row').filter({ hasText: 'john@acme.example' });
    expect(await left.getByRole('cell').nth(1).innerText()).toBe('—');
    // The last request per token, under the chart.
    await page
      .getByRole('listitem')
      .filter({ hasText: /^Entra: \d/ })
      .waitFor();
    const ticks = await page.evaluate<
      number[]
    >(`[...document.querySelectorAll('figure.chart svg text')]
      .map((t) => t.getBoundingClientRect().left - t.closest('svg').getBoundingClientRect().left)`);
    expect(
      Math.min(...ticks),
      'the first hour label starts inside the chart',
    ).toBeGreaterThanOrEqual(0);
    const csv = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    const exported = await page.evaluate(async (href) => (await fetch(href!)).text(), csv);
    expect(exported.split('\r\n')[0]).toContain('summary');
    expect(exported).toContain('deactivated john@acme.example');
    const json = await page.getByRole('link', { name: 'Export JSON' }).getAttribute('href');
    const entries = await page.evaluate(async (href) => (await fetch(href!)).json(), json);
    expect(JSON.stringify(entries)).toContain('created team Platform Team');
    // The export follows the filters: only failures (none yet).
    await page.getByRole('combobox', { name: 'Outcome' }).selectOption('failure');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No requests match.').waitFor();
    const filtered = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    expect(filtered).toContain('outcome=failure');
    const onlyFailures = await page.evaluate(async (href) => (await fetch(href!)).text(), filtered);
    expect(onlyFailures.trim().split('\r\n')).toHaveLength(1); // the header line alone
    await page.getByRole('combobox', { name: 'Outcome' }).selectOption('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText("SCIM token 'Entra' created team Platform Team").waitFor();
    await axe('provisioning log');
    await shot('provisioning-log');
  });

  it('refuses a cookie-authenticated change without the CSRF token', async () => {
    const status = await page.evaluate(async (id) => {
      const response = await fetch(`/api/v1/admin/accounts/${id}/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'scim', name: 'forged' }),
      });
      return response.status;
    }, accountId);
    expect(status).toBe(403);
  });

  it('revokes the token: the next SCIM request is a 401 and a failure in the log', async () => {
    await nav('API Tokens');
    await page.getByRole('button', { name: 'Revoke Entra' }).click();
    const dialog = page.getByRole('dialog', { name: /Revoke token/ });
    await dialog.waitFor();
    await axe('revoke dialog');
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await page.getByRole('row').filter({ hasText: 'Entra' }).getByText('Revoked').waitFor();
    const refused = await scim('GET', '/Users?count=1');
    expect(refused.status).toBe(401);
    await nav('Provisioning log');
    await page.getByRole('combobox', { name: 'Outcome' }).selectOption('failure');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText("SCIM token 'Entra' failed to read").waitFor();
    await page
      .getByRole('row')
      .filter({ hasText: 'failed to read' })
      .getByText('Failed (401)')
      .waitFor();
    await page.getByRole('status').filter({ hasText: '1 failure in 24 h' }).waitFor();
    await shot('provisioning-log-failure');
  });

  it('switches to a US account, whose tenant URL names the US host: the EU host answers with the fix', async () => {
    await page.getByRole('link', { name: 'Switch account' }).click();
    await page.getByRole('heading', { name: 'Choose an account' }).waitFor();
    await page.getByRole('button', { name: /Initech/ }).click();
    await page.getByRole('heading', { level: 1, name: 'API Tokens' }).waitFor();
    expect(page.url()).toContain(`/console/a/${usAccountId}/settings/api-tokens`);
    expect(await page.getByRole('textbox', { name: 'Account ID' }).inputValue()).toBe(usAccountId);
    const usTenantUrl = await page.getByRole('textbox', { name: 'Tenant URL' }).inputValue();
    const port = new URL(server.origin).port;
    expect(usTenantUrl).toBe(`http://localhost:${port}/api/v1/scim/azure/${usAccountId}`);
    await page.getByRole('button', { name: 'Issue Token' }).click();
    await page.getByRole('radio', { name: /^SCIM/ }).check();
    await page.getByRole('textbox', { name: 'Name' }).fill('Entra US');
    await page.getByRole('button', { name: 'Generate API Token' }).click();
    const usToken = await page.getByRole('textbox', { name: 'Token', exact: true }).inputValue();
    // The admin pasted the EU tenant URL: Entra's Test Connection shows this detail.
    const euUrl = `${server.origin}/api/v1/scim/azure/${usAccountId}/Users?count=1`;
    const wrong = await fetch(euUrl, { headers: { authorization: `Bearer ${usToken}` } });
    expect(wrong.status).toBe(421);
    const error = (await wrong.json()) as { status: string; detail: string };
    expect(error.status).toBe('421');
    expect(error.detail).toContain(usTenantUrl);
    const right = await fetch(`${usTenantUrl}/Users?count=1`, {
      headers: { authorization: `Bearer ${usToken}` },
    });
    expect(right.status).toBe(200);
    await nav('Provisioning log');
    const failed = page.getByRole('row').filter({ hasText: 'HTTP 421' }).first();
    await failed.getByText('Failed (421)').waitFor();
    await failed.getByText(usTenantUrl).waitFor();
    await axe('provisioning log of the US account');
    await shot('provisioning-log-wrong-region');
    // Back to Acme for the rest.
    await page.getByRole('link', { name: 'Switch account' }).click();
    await page.getByRole('button', { name: /Acme/ }).click();
    await page.getByRole('heading', { level: 1, name: 'API Tokens' }).waitFor();
    expect(page.url()).toContain(`/console/a/${accountId}/`);
  });

  it('manages webhooks and settings', async () => {
    await nav('Webhooks');
    const port = (receiver.address() as AddressInfo).port;
    await page.getByRole('textbox', { name: 'URL' }).fill(`http://127.0.0.1:${port}/roster-events`);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = page.getByRole('textbox', { name: 'Signing secret' });
    await secret.waitFor();
    expect(await secret.inputValue()).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByText(/Test event failed/).waitFor();
    await page.getByRole('columnheader', { name: 'Next retry' }).waitFor();
    await page.getByRole('button', { name: 'Delivery log' }).click();
    await page.getByRole('heading', { name: 'Delivery log' }).waitFor();
    await axe('webhooks');
    await shot('webhooks');
    // A provisioning change's event goes to the webhook, whose receiver answers 500: the
    // delivery log shows the status, the endpoint its failures and next retry.
    const second = await issueToken(server.stores, {
      accountId,
      type: 'scim',
      name: 'Webhook check',
    });
    const change = await fetch(`${tenantUrl}/Users/${ids.jane}`, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${second.token}`,
        'content-type': 'application/scim+json',
      },
      body: JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Replace', path: 'title', value: 'Staff Engineer' }],
      }),
    });
    expect(change.status).toBe(200);
    const endpoint = page.getByRole('row').filter({ hasText: '/roster-events' });
    for (let i = 0; i < 50; i++) {
      if ((await endpoint.getByText(/failure/).count()) > 0) break;
      await page.waitForTimeout(200);
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    }
    await endpoint.getByText(/\d+ failures?: HTTP 500/).waitFor();
    expect(await endpoint.getByRole('cell').nth(3).innerText()).toMatch(/\d{4}/);
    await endpoint.getByRole('button', { name: 'Delivery log' }).click();
    await page
      .getByRole('region', { name: 'Delivery attempts' })
      .getByText('500', { exact: true })
      .first()
      .waitFor();
    await shot('webhooks-delivery-log');

    await nav('Settings');
    await page.getByText('2 active users use seats (no limit).').waitFor();
    await page.getByRole('spinbutton', { name: 'Seat limit' }).fill('50');
    await page.getByRole('button', { name: 'Save seat limit' }).click();
    await page.getByText('2 of 50 seats').waitFor();
    await page.getByRole('switch', { name: 'A team per department' }).check();
    await page.getByText('Team mapping saved.').waitFor();
    await page.getByRole('textbox', { name: "New admin's e-mail" }).fill('second@acme.example');
    await page.getByRole('button', { name: 'Add admin' }).click();
    const password = page.getByRole('textbox', { name: 'Password for second@acme.example' });
    await password.waitFor();
    expect((await password.inputValue()).length).toBeGreaterThanOrEqual(16);
    await page
      .getByRole('row')
      .filter({ hasText: 'second@acme.example' })
      .getByText('Active')
      .waitFor();
    await axe('settings');
    await shot('settings');
    // Deactivate the new admin; the last active one cannot be deactivated.
    await page.getByRole('button', { name: 'Deactivate second@acme.example' }).click();
    await page.getByRole('dialog', { name: /Deactivate second@acme.example/ }).waitFor();
    await page.getByRole('button', { name: 'Deactivate admin' }).click();
    await page
      .getByRole('row')
      .filter({ hasText: 'second@acme.example' })
      .getByText('Deactivated')
      .waitFor();
    await page.getByRole('button', { name: 'Deactivate it-admin@acme.example' }).click();
    await page.getByRole('button', { name: 'Deactivate admin' }).click();
    await page.getByRole('alert').filter({ hasText: 'last active admin' }).waitFor();
    await page
      .getByRole('row')
      .filter({ hasText: 'it-admin@acme.example' })
      .getByText('Active', { exact: true })
      .waitFor();
  }, 90_000);

  it('is usable by keyboard alone, with a visible focus on every control', async () => {
    await nav('Users');
    // A fresh load: sequential focus starts at the top of the document.
    await page.goto(page.url());
    await page.getByRole('link', { name: 'Jane Doe' }).waitFor();
    const seen: string[] = [];
    for (let i = 0; i < 80 && !seen.includes('Jane Doe'); i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate<{
        tag: string;
        name: string;
        outline: string;
        width: number;
      } | null>(`(() => {
        const e = document.activeElement;
        if (!e || e === document.body) return null;
        const style = getComputedStyle(e);
        const labels = e.labels ? [...e.labels].map((l) => l.textContent).join(' ') : '';
        return {
          tag: e.tagName.toLowerCase(),
          name: (e.getAttribute('aria-label') || labels || e.textContent || '').trim(),
          outline: style.outlineStyle,
          width: parseFloat(style.outlineWidth),
        };
      })()`);
      if (focused === null) continue;
      expect(focused.name, `a focused ${focused.tag} has a name`).not.toBe('');
      expect(focused.outline, `focus on ${focused.name} is visible`).not.toBe('none');
      expect(focused.width).toBeGreaterThanOrEqual(2);
      seen.push(focused.name);
    }
    // The skip link, the navigation, the search form and the user links are all reached.
    expect(seen).toContain('Skip to content');
    expect(seen).toContain('Provisioning log');
    expect(seen).toContain('Search');
    expect(seen).toContain('Jane Doe');
    // Enter follows a link without a mouse.
    await page.getByRole('link', { name: 'Jane Doe' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Jane Doe' }).waitFor();
  });

  it('serves console pages with a strict CSP: no inline script, no framing', async () => {
    const response = await fetch(`${server.origin}/console/`);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const html = await response.text();
    expect(html).toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    // Framing is refused by the browser too (frame-ancestors), from a page of no origin.
    const framer = await context.newPage();
    const refused = new Promise<string>((resolve) =>
      framer.on('console', (message) => {
        if (/frame-ancestors/.test(message.text())) resolve(message.text());
      }),
    );
    await framer.setContent(
      `<iframe title="framed console" src="${server.origin}/console/sign-in"></iframe>`,
    );
    expect(await refused).toContain("frame-ancestors 'none'");
    await framer.close();
    expect(violations).toEqual([]);
  });

  it('works at 390 px wide', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [label, name] of [
      ['API Tokens', 'api-tokens-390'],
      ['Users', 'users-390'],
      ['Teams', 'teams-390'],
      ['Webhooks', 'webhooks-390'],
      ['Settings', 'settings-390'],
      ['Provisioning log', 'provisioning-log-390'],
      ['Org chart', 'org-chart-390'],
    ] as const) {
      await nav(label);
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      );
      const wide =
        overflow <= 0
          ? ''
          : await page.evaluate<string>(`(() => {
              const out = [];
              for (let e = document.querySelector('td'); e; e = e.parentElement)
                out.push(e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().width));
              return out.join(' < ');
            })()`);
      expect(overflow, `${label} scrolls sideways at 390 px: ${wide}`).toBeLessThanOrEqual(0);
      if (label === 'Users') {
        // Rows become stacked cards: the table does not scroll inside its box either.
        const region = page.getByRole('region', { name: 'Users' });
        const inner = await region.evaluate((e) => e.scrollWidth - e.clientWidth);
        expect(inner, 'the users table scrolls inside its box').toBeLessThanOrEqual(0);
        const cells = page.getByRole('row').filter({ hasText: 'Jane Doe' }).getByRole('cell');
        const name = (await cells.nth(0).boundingBox())!;
        const email = (await cells.nth(2).boundingBox())!;
        expect(email.y, 'the e-mail sits under the name').toBeGreaterThan(name.y);
      }
      await axe(`${label} at 390 px`);
      await shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out: the session ends server-side', async () => {
    const cookie = (await context.cookies()).find((c) => c.name === 'roster_session')!;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Roster' }).waitFor();
    const replay = await fetch(`${server.origin}/api/v1/admin/accounts/${accountId}/`, {
      headers: { cookie: `roster_session=${cookie.value}` },
    });
    expect(replay.status).toBe(401);
    await page.goto(`${server.origin}/console/a/${accountId}/users`);
    await page.getByRole('heading', { name: 'Sign in to Roster' }).waitFor();
    expect(violations).toEqual([]);
  });
});
