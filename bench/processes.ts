import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** The repository root (dist-bench/bench/ is two levels down). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ROSTER_BIN = `${ROOT}bin/roster`;

export interface Child {
  readonly name: string;
  readonly origin: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (listen on 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a node script as a child and waits for it to print a line matching `ready` (its origin). */
export async function startChild(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 600_000,
): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
  // Keep draining so a chatty child never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.on('data', (chunk: Buffer) => {
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${chunk.toString()}`);
  });
  return {
    name,
    origin,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Resident and peak memory of a process, in MiB, from /proc/<pid>/status (VmRSS, VmHWM). */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** Runs `bin/roster` to completion; rejects with its stderr on failure. */
export function roster(
  args: string[],
  env: Record<string, string>,
  onStderr?: (text: string) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ROSTER_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(chunk.toString());
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`roster ${args.join(' ')} failed (${code}): ${stderr}`)),
    );
    child.stdin.end(args[0] === 'admin' ? 'bench lantern orbit velvet mosaic\n' : '');
  });
}

/** Runs one statement (CREATE/DROP DATABASE) on the PostgreSQL server of `pgUrl`. */
export async function pgAdmin(pgUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export interface FreshDatabase {
  /** DATABASE_URL for `roster`: a SQLite file path or a PostgreSQL URL. */
  readonly url: string;
  /** Removes the file's folder or drops the database. */
  dispose(): Promise<void>;
}

/**
 * A new empty database for one run: a SQLite file in a new temporary folder, or a PostgreSQL
 * database `<prefix>_<time>` created on the server of `pgUrl` (the maintenance database).
 */
export async function freshDatabase(
  kind: 'sqlite' | 'postgres',
  pgUrl: string,
  prefix: string,
): Promise<FreshDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `${prefix.replace(/_/g, '-')}-`));
    return {
      url: join(dir, 'roster.db'),
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `${prefix}_${Date.now().toString(36)}`;
  await pgAdmin(pgUrl, `CREATE DATABASE ${name}`);
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dispose: () => pgAdmin(pgUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** `roster serve` on a free port of 127.0.0.1, started as a child with `env`. */
export async function startRoster(
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<Child> {
  const port = await freePort();
  return startChild(
    'roster',
    [...nodeArgs, 'bin/roster', 'serve'],
    { ...env, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}` },
    /roster listening on (http:\/\/[\d.:]+)/,
  );
}

export interface BenchTenant {
  readonly id: string;
  readonly tokenId: string;
  readonly token: string;
}

/** An account with one admin and a SCIM token, made with the CLI as an admin would. */
export async function createTenant(
  env: Record<string, string>,
  name: string,
  adminEmail: string,
  tokenName = 'bench',
): Promise<BenchTenant> {
  const account = JSON.parse(
    await roster(['account', 'create', '--name', name, '--json'], env),
  ) as { id: string };
  await roster(['admin', 'create', '--account', account.id, '--email', adminEmail], env);
  const issued = JSON.parse(
    await roster(
      ['token', 'issue', '--account', account.id, '--type', 'scim', '--name', tokenName, '--json'],
      env,
    ),
  ) as { id: string; token: string };
  return { id: account.id, tokenId: issued.id, token: issued.token };
}
