import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  createAccount,
  createAdmin,
  deactivateAdmin,
  reactivateAdmin,
  listAccounts,
  updateAccountPolicy,
  listAdmins,
  tenantUrl,
} from '../app/accounts.js';
import { AppError } from '../app/errors.js';
import { generatePassword } from '../app/passwords.js';
import { issueToken, listTokens, revokeToken, TOKEN_TYPES, type TokenType } from '../app/tokens.js';
import { checkRegion, ConfigError, loadConfig, regionOrigin, type Config } from '../config.js';
import { resolveOrigins, type DeploymentOrigins } from '../config-deployment.js';
import { logQueryOf } from './log.js';
import { readLog } from '../app/provisioning-log.js';
import { createStores } from '../storage/stores.js';
import { isPrivateDestination } from './private-url.js';
import { readFileSync } from 'node:fs';
import { openDatabase, type RosterDatabase } from '../storage/connect.js';
import { MigrationError, migrateToLatest } from '../storage/migrations/index.js';
import { seedAccount, type SeedProgress } from '../storage/seed.js';
import { requireAccount } from '../app/accounts.js';
import {
  createEndpoint,
  deleteEndpoint,
  listAttempts,
  listEndpoints,
} from '../app/webhooks/endpoints.js';
import { registerSsoCommands } from './sso.js';
import type { Stores } from '../app/stores.js';
import { registerSyncCommands, registerValidateCommand } from './sync.js';

/**
 * `roster`: the one place that wires configuration, storage and the app together
 * (ARCHITECTURE: cli). Every command migrates first, so it works on a fresh database.
 */
export function buildProgram(): Command {
  const program = new Command('roster')
    .description('Roster: a SCIM 2.0 directory of people and teams')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });

  program
    .command('serve')
    .description('migrate the database, then serve SCIM and the admin API')
    .action(async () => {
      const config = loadConfig();
      await withDatabase(config, async () => undefined);
      // Loaded here only: the other commands start faster without Fastify.
      const { startServer } = await import('../http/server.js');
      const server = await startServer(config);
      const served = config.regions.configured
        ? `regions ${config.regions.list.map((r) => `${r.name}=${r.origin}`).join(', ')}`
        : `public URL ${config.port === 0 && !config.originsExplicit ? server.url : config.publicUrl}`;
      process.stdout.write(`roster listening on ${server.url} (${served})\n`);
      const stop = (): void => {
        server.close().then(
          () => process.exit(0),
          (error: unknown) => fail(error),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      const config = loadConfig();
      await withDatabase(config, async () => undefined);
      process.stdout.write(`database is up to date (${describeDatabase(config.databaseUrl)})\n`);
    });

  const account = program.command('account').description('manage accounts');
  account
    .command('create')
    .description('create an account')
    .requiredOption('--name <name>', 'account name')
    .option(
      '--region <region>',
      'data-center region: one of REGIONS, whose host serves the account (default: REGION, else the first of REGIONS, else eu)',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; region?: string; json?: true }) => {
      const config = loadConfig();
      const { created, origins } = await withStores(config, async (stores, { db }) => {
        const origins = await resolveOrigins(db, config);
        const region = (
          opts.region ??
          (process.env.REGION?.trim() ? config.region : origins.regions.defaultRegion)
        )
          .trim()
          .toLowerCase();
        checkRegion(origins.regions, region);
        return { created: await createAccount(stores, { name: opts.name, region }), origins };
      });
      const url = accountTenantUrl(origins, created);
      if (opts.json) {
        printJson({ id: created.id, name: created.name, region: created.region, tenantUrl: url });
      } else {
        print(`Created account "${created.name}" (${created.region}) with id ${created.id}.`);
        print(`Tenant URL: ${url}`);
        print(`Next: roster admin create --account ${created.id} --email EMAIL`);
      }
    });
  account
    .command('list')
    .description('list accounts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: true }) => {
      const config = loadConfig();
      const { accounts, origins } = await withStores(config, async (stores, { db }) => ({
        accounts: await listAccounts(stores),
        origins: await resolveOrigins(db, config),
      }));
      const rows = accounts.map((a) => ({ ...a, tenantUrl: accountTenantUrl(origins, a) }));
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return print('No accounts yet: roster account create --name NAME');
      printTable(
        rows.map((a) => [a.id, a.name, a.region, a.createdAt, a.tenantUrl]),
        ['ID', 'NAME', 'REGION', 'CREATED', 'TENANT URL'],
      );
    });

  account
    .command('update')
    .description("change an account's seat limit and team mapping")
    .requiredOption('--account <id>', 'account id')
    .option('--seats <n>', 'seat limit: active users allowed, or "unlimited"')
    .option('--department-teams <on|off>', 'a team per enterprise department value')
    .option('--manager-teams <on|off>', "a team per manager, holding the manager's direct reports")
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        account: string;
        seats?: string;
        departmentTeams?: string;
        managerTeams?: string;
        json?: true;
      }) => {
        const config = loadConfig();
        const seats =
          opts.seats === undefined
            ? undefined
            : opts.seats === 'unlimited'
              ? null
              : parseNumberFlag(
                  opts.seats,
                  '--seats',
                  'a number of seats (0 or more) or "unlimited"',
                );
        const settings = {
          ...(opts.departmentTeams !== undefined
            ? { departmentTeams: parseSwitch(opts.departmentTeams, '--department-teams') }
            : {}),
          ...(opts.managerTeams !== undefined
            ? { managerTeams: parseSwitch(opts.managerTeams, '--manager-teams') }
            : {}),
        };
        const policy = await withStores(config, (stores) =>
          updateAccountPolicy(stores, opts.account, {
            ...(seats !== undefined ? { seats } : {}),
            settings,
          }),
        );
        if (opts.json) return printJson(policy);
        print(
          `Seats: ${policy.seats === null ? 'unlimited' : policy.seats} (${policy.activeUsers} active users).`,
        );
        print(
          `Department teams: ${policy.settings.departmentTeams ? 'on' : 'off'}; manager teams: ${policy.settings.managerTeams ? 'on' : 'off'}.`,
        );
      },
    );

  const admin = program.command('admin').description("manage an account's admins");
  admin
    .command('create')
    .description('create an admin (password from stdin, or a generated one printed once)')
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--email <email>', 'admin e-mail')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; email: string; json?: true }) => {
      const config = loadConfig();
      const piped = await readPipedPassword();
      const password = piped ?? generatePassword();
      const created = await withStores(config, (stores) =>
        createAdmin(stores, { accountId: opts.account, email: opts.email, password }),
      );
      const shown = piped === undefined ? { password } : {};
      if (opts.json) {
        return printJson({
          id: created.id,
          accountId: created.accountId,
          email: created.email,
          ...shown,
        });
      }
      print(`Created admin ${created.email} (id ${created.id}) in account ${created.accountId}.`);
      if (piped === undefined) {
        print(`Password (shown only now, copy it): ${password}`);
      }
    });
  admin
    .command('list')
    .description("list an account's admins")
    .requiredOption('--account <id>', 'account id')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; json?: true }) => {
      const config = loadConfig();
      const admins = await withStores(config, (stores) => listAdmins(stores, opts.account));
      if (opts.json) return printJson(admins);
      if (admins.length === 0) return print(`Account ${opts.account} has no admins yet.`);
      printTable(
        admins.map((a) => [a.id, a.email, a.active ? 'active' : 'deactivated', a.createdAt]),
        ['ID', 'EMAIL', 'STATUS', 'CREATED'],
      );
    });

  admin
    .command('deactivate')
    .description('deactivate an admin: their SCIM and API tokens and sessions stop working')
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--email <email>', "the admin's email")
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; email: string; json?: true }) => {
      const config = loadConfig();
      const admin = await withStores(config, (stores) =>
        deactivateAdmin(stores, { accountId: opts.account, email: opts.email }),
      );
      if (opts.json) return printJson(admin);
      print(`Deactivated admin ${admin.email}: the tokens they issued no longer work.`);
    });
  admin
    .command('reactivate')
    .description('reactivate a deactivated admin: their password and unrevoked tokens work again')
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--email <email>', "the admin's email")
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; email: string; json?: true }) => {
      const config = loadConfig();
      const admin = await withStores(config, (stores) =>
        reactivateAdmin(stores, { accountId: opts.account, email: opts.email }),
      );
      if (opts.json) return printJson(admin);
      print(`Reactivated admin ${admin.email}: their unrevoked tokens work again.`);
    });

  const token = program.command('token').description("manage an account's API and SCIM tokens");
  token
    .command('issue')
    .description('issue a token (shown only once)')
    .requiredOption('--account <id>', 'account id')
    .addOption(new Option('--type <type>', 'token type').choices(TOKEN_TYPES).makeOptionMandatory())
    .requiredOption('--name <name>', 'what uses the token, e.g. "Entra ID"')
    .option('--admin <email>', "issuing admin (default: the account's first admin)")
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        account: string;
        type: TokenType;
        name: string;
        admin?: string;
        json?: true;
      }) => {
        const config = loadConfig();
        const { issued, url } = await withStores(config, async (stores, { db }) => {
          const issued = await issueToken(stores, {
            accountId: opts.account,
            type: opts.type,
            name: opts.name,
            ...(opts.admin === undefined ? {} : { adminEmail: opts.admin }),
          });
          const origins = await resolveOrigins(db, config);
          return {
            issued,
            url: accountTenantUrl(origins, await requireAccount(stores, opts.account)),
          };
        });
        if (opts.json) return printJson(issued);
        print(`Issued ${issued.type} token "${issued.name}" (id ${issued.id}).`);
        print(`Token: ${issued.token}`);
        print('Copy it now: it is shown only once and cannot be recovered.');
        if (issued.type === 'scim') print(`Tenant URL: ${url}`);
      },
    );
  token
    .command('list')
    .description("list an account's tokens (never their secrets)")
    .requiredOption('--account <id>', 'account id')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; json?: true }) => {
      const config = loadConfig();
      const tokens = await withStores(config, (stores) => listTokens(stores, opts.account));
      // A token works only while its issuer is an active admin: say so in the status.
      // JSON keeps the machine value (active, inactive, revoked); the table says why.
      const status = (t: (typeof tokens)[number]): string =>
        t.status === 'revoked'
          ? `revoked ${t.revokedAt ?? ''}`.trim()
          : t.status === 'inactive'
            ? `inactive (admin deactivated: ${t.adminEmail})`
            : 'active';
      if (opts.json) return printJson(tokens);
      if (tokens.length === 0) return print(`Account ${opts.account} has no tokens yet.`);
      printTable(
        tokens.map((t) => [
          t.id,
          t.type,
          t.name,
          t.adminEmail,
          t.createdAt,
          t.lastUsedAt ?? 'never',
          status(t),
        ]),
        ['ID', 'TYPE', 'NAME', 'ISSUED BY', 'CREATED', 'LAST USED', 'STATUS'],
      );
    });
  token
    .command('revoke')
    .description('revoke a token; running servers refuse it from their next request')
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--id <tokenId>', 'token id (see roster token list)')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; id: string; json?: true }) => {
      const config = loadConfig();
      const revoked = await withStores(config, (stores) =>
        revokeToken(stores, opts.account, opts.id),
      );
      if (opts.json) return printJson(revoked);
      print(`Revoked token "${revoked.name}" (id ${revoked.id}) at ${revoked.revokedAt ?? ''}.`);
    });

  program
    .command('seed')
    .description(
      'bulk-load synthetic users and teams into an account for benchmarks and demos: straight into the tables, so no seat check, team mapping or events',
    )
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--users <n>', 'users to create', parseCount)
    .option('--teams <m>', 'teams to create', parseCount, 0)
    .option(
      '--members-per-team <k>',
      "members of each team, taken from the account's users",
      parseCount,
      0,
    )
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        account: string;
        users: number;
        teams: number;
        membersPerTeam: number;
        json?: true;
      }) => {
        const config = loadConfig();
        // Migrates and checks the account; the load itself opens its own bulk connection.
        await withStores(config, (stores) => requireAccount(stores, opts.account));
        const result = await seedAccount(config.databaseUrl, {
          accountId: opts.account,
          users: opts.users,
          teams: opts.teams,
          membersPerTeam: opts.membersPerTeam,
          onProgress: progressPrinter(),
        });
        if (opts.json) return printJson(result);
        print(
          `Seeded ${result.users} users, ${result.teams} teams and ${result.memberships} memberships into account ${opts.account} in ${result.seconds.toFixed(1)} s.`,
        );
      },
    );

  const webhook = program
    .command('webhook')
    .description("manage an account's webhook endpoints (signed event delivery, docs/events.md)");
  webhook
    .command('add')
    .description('register an endpoint; prints its signing secret once')
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--url <url>', 'http(s) URL that receives POSTed events')
    .option('--description <text>', 'what receives the events')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; url: string; description?: string; json?: true }) => {
      const config = loadConfig();
      const created = await withDatabase(config, (database) =>
        createEndpoint(createStores(database).forAccount(opts.account), {
          url: opts.url,
          description: opts.description,
        }),
      );
      if (isPrivateDestination(created.url)) {
        process.stderr.write(
          `Note: ${new URL(created.url).hostname} is a loopback or private address. The server refuses to deliver there unless it runs with WEBHOOK_ALLOW_PRIVATE=1 (for local testing only).\n`,
        );
      }
      if (opts.json) return printJson(created);
      print(
        `Added webhook endpoint ${created.id} for account ${created.accountId}: ${created.url}`,
      );
      print(`Signing secret: ${created.secret}`);
      print(
        'Copy it now: it is shown only once. Verify the Roster-Signature header with it (docs/events.md).',
      );
      print(`Delivery starts with the account's next event (after seq ${created.deliveredSeq}).`);
    });
  webhook
    .command('list')
    .description("list an account's endpoints and their delivery state (never their secrets)")
    .requiredOption('--account <id>', 'account id')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; json?: true }) => {
      const config = loadConfig();
      const endpoints = await withDatabase(config, (database) =>
        listEndpoints(createStores(database).forAccount(opts.account)),
      );
      if (opts.json) return printJson(endpoints);
      if (endpoints.length === 0) {
        return print(
          `Account ${opts.account} has no webhook endpoints: roster webhook add --account ${opts.account} --url URL`,
        );
      }
      printTable(
        endpoints.map((e) => [
          e.id,
          e.url,
          String(e.deliveredSeq),
          e.failures === 0
            ? 'ok'
            : `failing (${e.failures}x, next ${e.nextAttemptAt ?? '?'}): ${e.lastError ?? ''}`,
          e.description ?? '',
        ]),
        ['ID', 'URL', 'DELIVERED SEQ', 'STATUS', 'DESCRIPTION'],
      );
    });
  webhook
    .command('remove')
    .description('remove an endpoint and its delivery log')
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--id <endpointId>', 'endpoint id (see roster webhook list)')
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; id: string; json?: true }) => {
      const config = loadConfig();
      const removed = await withDatabase(config, (database) =>
        deleteEndpoint(createStores(database).forAccount(opts.account), opts.id),
      );
      if (opts.json) return printJson(removed);
      print(`Removed webhook endpoint ${removed.id} (${removed.url}).`);
    });
  webhook
    .command('deliveries')
    .description("an endpoint's delivery log, newest first")
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--id <endpointId>', 'endpoint id (see roster webhook list)')
    .option('--limit <n>', 'attempts to show', parseCount, 50)
    .option('--json', 'print JSON')
    .action(async (opts: { account: string; id: string; limit: number; json?: true }) => {
      const config = loadConfig();
      const attempts = await withDatabase(config, (database) =>
        listAttempts(createStores(database).forAccount(opts.account), opts.id, opts.limit),
      );
      if (opts.json) return printJson(attempts);
      if (attempts.length === 0) return print(`No delivery attempts to endpoint ${opts.id} yet.`);
      printTable(
        attempts.map((a) => [
          String(a.id),
          a.at,
          a.firstSeq === a.lastSeq ? String(a.firstSeq) : `${a.firstSeq}-${a.lastSeq}`,
          a.status === null ? '-' : String(a.status),
          a.ok ? 'delivered' : (a.error ?? 'failed'),
          `${Math.round(a.durationMs)} ms`,
        ]),
        ['ATTEMPT', 'AT', 'EVENTS', 'STATUS', 'OUTCOME', 'DURATION'],
      );
    });

  program
    .command('log')
    .description("an account's provisioning log: every SCIM request, newest first")
    .requiredOption('--account <id>', 'account id')
    .option('--limit <n>', 'entries to show (1 to 1000)', '50')
    .option('--since <time>', 'from this time (ISO 8601) or this long ago (30m, 2h, 7d)')
    .option('--until <time>', 'before this time (ISO 8601) or this long ago')
    .option('--status <status>', 'ok, failed, or a status code such as 404')
    .option('--method <method>', 'GET, POST, PUT, PATCH or DELETE')
    .option('--token <tokenId>', 'requests made with this token (see roster token list)')
    .option('--resource <id>', 'requests about this user or team id')
    .option('--json', 'print JSON (change and error included)')
    .action(
      async (opts: {
        account: string;
        limit: string;
        since?: string;
        until?: string;
        status?: string;
        method?: string;
        token?: string;
        resource?: string;
        json?: true;
      }) => {
        const config = loadConfig();
        const limit = parseNumberFlag(opts.limit, '--limit', 'a number of entries from 1 to 1000');
        if (limit < 1 || limit > 1000)
          throw new AppError('invalid', `--limit takes 1 to 1000 entries, got ${limit}`);
        const entries = await withDatabase(config, async (database) => {
          await requireAccount(createStores(database), opts.account);
          return readLog(
            createStores(database).forAccount(opts.account),
            logQueryOf({ ...opts, limit }),
          );
        });
        if (opts.json) return printJson(entries);
        if (entries.length === 0) return print('No provisioning requests match.');
        printTable(
          entries.map((e) => [
            e.at,
            e.tokenName ?? e.tokenId ?? '-',
            `${e.method} ${e.path.length > 70 ? `${e.path.slice(0, 67)}...` : e.path}`,
            String(e.status),
            e.status >= 400 ? (e.error ?? '') : describeChange(e.change),
          ]),
          ['AT', 'TOKEN', 'REQUEST', 'STATUS', 'CHANGE OR ERROR'],
        );
      },
    );

  program
    .command('openapi')
    .description(
      'print the OpenAPI 3.1 document of the product REST API (as served at /api/v1/openapi.json)',
    )
    .action(async () =>
      printJson(await (await import('../http/rest/openapi.js')).restOpenApiDocument()),
    );

  registerSyncCommands(program);
  registerValidateCommand(program);
  registerSsoCommands(program);
  return program;
}

async function withDatabase<T>(
  config: Config,
  use: (database: RosterDatabase) => Promise<T>,
): Promise<T> {
  const database = await openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database.db);
    return await use(database);
  } finally {
    await database.close();
  }
}

/** withDatabase, with the app's stores over it (src/storage/stores.ts). */
function withStores<T>(
  config: Config,
  use: (stores: Stores, database: RosterDatabase) => Promise<T>,
): Promise<T> {
  return withDatabase(config, (database) => use(createStores(database), database));
}

/** The tenant URL of an account: its region's origin (REGIONS), else PUBLIC_URL. */
function accountTenantUrl(origins: DeploymentOrigins, account: { id: string; region: string }) {
  return tenantUrl(regionOrigin(origins.regions, account.region), account.id);
}

/** A whole number given to a flag, or a sentence saying what the flag takes. */
function parseNumberFlag(raw: string, flag: string, what: string): number {
  const text = raw.trim().replace(/_/g, '');
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n))
    throw new AppError('invalid', `${flag} takes ${what}, got "${raw}"`);
  return n;
}

function describeChange(change: unknown): string {
  if (change === null || typeof change !== 'object') return '';
  const c = change as { op?: unknown; changed?: unknown };
  const changed = Array.isArray(c.changed) ? ` ${c.changed.join(', ')}` : '';
  return `${typeof c.op === 'string' ? c.op : 'changed'}${changed}`.slice(0, 80);
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function parseSwitch(raw: string, flag: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(value)) return true;
  if (['off', 'false', 'no', '0'].includes(value)) return false;
  throw new AppError('invalid', `${flag} takes on or off, got "${raw}"`);
}

function parseCount(raw: string): number {
  const n = /^\d+$/.test(raw.replace(/_/g, '')) ? Number(raw.replace(/_/g, '')) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

/** Progress on stderr: a line per phase step at most once a second (stdout stays clean for --json). */
function progressPrinter(): (progress: SeedProgress) => void {
  let last = 0;
  const started = performance.now();
  return ({ phase, done, total }) => {
    const now = performance.now();
    if (done < total && now - last < 1000) return;
    last = now;
    const rate = Math.round(done / Math.max((now - started) / 1000, 0.001));
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    process.stderr.write(
      `seed: ${phase} ${done}/${total} (${percent}%)${phase === 'users' ? `, ${rate}/s` : ''}\n`,
    );
  };
}

/** A password piped on stdin (`echo secret | roster admin create ...`), else undefined. */
async function readPipedPassword(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  return text === '' ? undefined : text;
}

function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol.startsWith('postgres'))
      return `PostgreSQL ${parsed.host}${parsed.pathname}`;
  } catch {
    // not a URL: a SQLite file path
  }
  return `SQLite ${url}`;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function printTable(rows: string[][], header: string[]): void {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  for (const row of all) {
    print(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  }
}

/** Errors print their message only; ROSTER_DEBUG=1 adds the stack of unexpected ones. */
function fail(error: unknown): void {
  const known =
    error instanceof AppError || error instanceof ConfigError || error instanceof MigrationError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`roster: ${message}\n`);
  if (!known && process.env.ROSTER_DEBUG && error instanceof Error && error.stack) {
    process.stderr.write(`${error.stack}\n`);
  }
  process.exitCode = 1;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message (or help/version) already.
      process.exitCode = error.exitCode;
      return;
    }
    fail(error);
  }
}

await main();
