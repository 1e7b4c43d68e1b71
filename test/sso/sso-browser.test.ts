import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateAccountPolicy } from '../../src/app/accounts.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  newSigningKey,
  startOidcProvider,
  type TestPerson,
  type TestProvider,
} from '../helpers/oidc-provider.js';
import {
  scimClient,
  startTestServer,
  type TestServer,
  type TestTenant,
} from '../helpers/server.js';

/**
 * Sign-in with SSO in real Chromium (Debian's /usr/bin/chromium through playwright-core)
 * against a real OpenID Connect provider (npm oidc-provider on 127.0.0.1) and a real
 * Roster: the person types their login at the provider and lands back in the product.
 */
const CHROMIUM = '/usr/bin/chromium';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';

describe.each(DATABASE_KINDS)('SSO sign-in in Chromium on %s', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;
  let provider: TestProvider;
  let browser: Browser;
  let scim: ReturnType<typeof scimClient>;
  const people = new Map<string, TestPerson & { employee_id?: string }>();
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `${CHROMIUM} is missing: the SSO browser tests need Debian's chromium package (apt-get install -y chromium).`,
      );
    server = await startTestServer(kind, { sso: { key: randomBytes(32), allowPrivate: true } });
    tenant = await server.createTenant();
    scim = scimClient(tenant);
    await updateAccountPolicy(server.stores, tenant.accountId, {
      settings: { departmentTeams: true },
    });
    provider = await startOidcProvider({
      redirectUris: [`${server.origin}/api/v1/sso/${tenant.accountId}/callback`],
      key: await newSigningKey('browser-key'),
      people,
      extraProfileClaims: ['employee_id'],
    });
    const session = await fetch(`${server.origin}/api/v1/admin/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        accountId: tenant.accountId,
        email: 'admin1@example.com',
        password: 'correct horse battery',
      }),
    });
    const { token } = (await session.json()) as { token: string };
    const set = await fetch(`${server.origin}/api/v1/admin/accounts/${tenant.accountId}/sso`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        issuer: provider.issuer,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        allowedDomains: ['acme.example'],
        claims: { externalId: 'employee_id', department: 'department', groups: 'groups' },
      }),
    });
    expect(set.status).toBe(200);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
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
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await provider?.close();
    await server?.close();
  });

  /** A fresh browser (no provider session), signing `login` in from the product's start URL. */
  async function signIn(
    login: string,
    returnTo: string,
  ): Promise<{ page: Page; context: BrowserContext }> {
    const context = await browser.newContext();
    contexts.push(context);
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto(
      `${server.origin}/api/v1/sso/${tenant.accountId}/start?returnTo=${encodeURIComponent(returnTo)}`,
    );
    // The provider's sign-in page.
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('correct-horse-battery-9');
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((url) => url.origin === server.origin);
    return { page, context };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON answers
  async function json(page: Page): Promise<any> {
    return JSON.parse(await page.locator('body').innerText());
  }

  it('first sign-in creates the user in the team of their department and of their groups', async () => {
    const platform = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Platform',
    });
    expect(platform.status).toBe(201);
    people.set('ann', {
      email: 'ann@acme.example',
      preferred_username: 'ann@acme.example',
      name: 'Ann Perkins',
      given_name: 'Ann',
      family_name: 'Perkins',
      department: 'Engineering',
      groups: ['platform', 'Not A Team'],
    });
    const { page, context } = await signIn('ann', '/api/v1/me');
    expect(new URL(page.url()).pathname).toBe('/api/v1/me');
    const me = await json(page);
    expect(me.user).toMatchObject({
      userName: 'ann@acme.example',
      displayName: 'Ann Perkins',
      givenName: 'Ann',
      familyName: 'Perkins',
      department: 'Engineering',
      active: true,
    });
    expect(me.teams.map((t: { displayName: string }) => t.displayName)).toEqual([
      'Engineering',
      'Platform',
    ]);
    const cookie = (await context.cookies(server.origin)).find((c) => c.name === 'roster_user');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    const users = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "ann@acme.example"')}`,
    );
    expect(users.body.totalResults).toBe(1);
    const members = await scim('GET', `/Groups/${platform.body.id}`);
    expect(members.body.members.map((m: { value: string }) => m.value)).toEqual([me.user.id]);
    // The join moved the team's version: an If-Match of the version from before fails.
    expect(members.body.meta.version).not.toBe(platform.body.meta.version);
    const stale = await scim(
      'PATCH',
      `/Groups/${platform.body.id}`,
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value: 'Platform team' }],
      },
      { 'If-Match': platform.body.meta.version },
    );
    expect(stale.status).toBe(412);
  });

  it('a user SCIM created signs in and is linked (by externalId), not duplicated', async () => {
    const bob = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: 'robert.jones@acme.example',
      externalId: 'E-1002',
      name: { givenName: 'Robert' },
    });
    expect(bob.status).toBe(201);
    people.set('bob', {
      email: 'bob@acme.example',
      preferred_username: 'bob@acme.example',
      employee_id: 'E-1002',
      department: 'Sales',
    });
    const { page } = await signIn('bob', '/api/v1/sso/signed-in');
    expect(await page.locator('body').innerText()).toContain(
      'Signed in as robert.jones@acme.example',
    );
    const me = await json(
      await page
        .context()
        .newPage()
        .then(async (p) => (await p.goto(`${server.origin}/api/v1/me`), p)),
    );
    expect(me.user.id).toBe(bob.body.id);
    const all = await scim('GET', '/Users?count=100');
    expect(
      all.body.Resources.filter((u: { userName: string }) => /bob|robert/.test(u.userName)),
    ).toHaveLength(1);
    // Signing out from the page ends the session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'You are signed out' }).waitFor();
    const after = await page.goto(`${server.origin}/api/v1/me`);
    expect(after?.status()).toBe(401);
  });

  it('a deactivated user is refused with a clear page and no session', async () => {
    const cy = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: 'cy@acme.example',
      active: true,
    });
    await scim('PATCH', `/Users/${cy.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    people.set('cy', { email: 'cy@acme.example', preferred_username: 'cy@acme.example' });
    const { page, context } = await signIn('cy', '/api/v1/me');
    await page.getByRole('heading', { level: 1, name: 'Your account is deactivated' }).waitFor();
    expect(await page.locator('body').innerText()).toContain('Ask them to reactivate it');
    expect((await context.cookies(server.origin)).some((c) => c.name === 'roster_user')).toBe(
      false,
    );
    const users = await scim(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "cy@acme.example"')}`,
    );
    expect(users.body.totalResults).toBe(1);
  });

  // The panel reads and writes the provider row: on either database.
  it('the console Settings panel shows the redirect URI, saves the provider and tests it', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto(`${server.origin}/console/sign-in`);
    await page.getByLabel('Email').fill('admin1@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'API Tokens' }).waitFor();
    await page
      .getByRole('navigation', { name: 'Console' })
      .getByRole('link', { name: 'Settings', exact: true })
      .click();
    const panel = page.getByRole('region', { name: 'Sign-in with SSO' });
    await expect.poll(() => panel.getByLabel('Issuer URL').inputValue()).toBe(provider.issuer);
    expect(
      await panel.getByRole('textbox', { name: 'Redirect URI', exact: true }).inputValue(),
    ).toBe(`${server.origin}/api/v1/sso/${tenant.accountId}/callback`);
    expect(
      await panel.getByText('A secret is stored (encrypted). Leave empty to keep it.').count(),
    ).toBe(1);
    await panel.getByLabel('Allowed e-mail domains').fill('acme.example, acme.co.uk');
    await panel.getByLabel('Client secret').fill(CLIENT_SECRET);
    await panel.getByRole('button', { name: 'Save SSO' }).click();
    await panel.getByText('Sign-in with SSO saved.').waitFor();
    const row = await server.database.db
      .selectFrom('sso_providers')
      .selectAll()
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.allowed_domains)).toEqual(['acme.example', 'acme.co.uk']);
    expect(row.client_secret).not.toContain(CLIENT_SECRET);
    await panel.getByRole('button', { name: 'Test connection' }).click();
    await panel.getByText(/^Connected: /).waitFor();
    await page.screenshot({
      path: fileURLToPath(new URL('../../docs/console/sso-settings.png', import.meta.url)),
      fullPage: true,
    });
  });
});
