// Shared by the A/B scripts (ab-pair.mjs, member-ab.mjs, pg-cost.mjs): start a build's
// `bin/roster serve` on a free port, and read a process's CPU time from /proc.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1. */
export const freePort = () =>
  new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => r(port));
    });
  });

/** `bin/roster serve` of the build in `dir` with `env`, once it listens; `stop()` ends it. */
export async function serveBuild(dir, env) {
  const port = await freePort();
  const c = spawn(process.execPath, ['bin/roster', 'serve'], {
    cwd: dir,
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise((res, rej) => {
    c.stdout.on('data', (d) => {
      out += d;
      if (/listening on/.test(out)) res();
    });
    c.stderr.on('data', (d) => (out += d));
    c.once('exit', () => rej(new Error(out)));
  });
  c.stdout.resume();
  return {
    pid: c.pid,
    origin: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((r) => {
        c.once('exit', r);
        c.kill('SIGTERM');
      }),
  };
}

/** User and system CPU of a process so far, in ms (0 once it has exited). */
export function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Runs a build's CLI (`bin/roster ...args`) with `env` and `input` on stdin; resolves to its stdout. */
export function rosterCli(dir, args, env, input = '') {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, [`${dir}/bin/roster`, ...args], {
      cwd: dir,
      env: { ...process.env, ...env },
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${args.join(' ')}: ${err}`))));
    c.stdin.end(input);
  });
}

/**
 * A bench account through a build's CLI, with an admin and a SCIM token, seeded with
 * `users` users: `{ account, token }` (the account's id and the token).
 */
export async function benchTenant(dir, env, users) {
  const account = JSON.parse(
    await rosterCli(dir, ['account', 'create', '--name', 'Bench', '--json'], env),
  );
  await rosterCli(
    dir,
    ['admin', 'create', '--account', account.id, '--email', 'bench@example.com'],
    env,
    'bench lantern orbit velvet mosaic\n',
  );
  const token = JSON.parse(
    await rosterCli(
      dir,
      ['token', 'issue', '--account', account.id, '--type', 'scim', '--name', 'bench', '--json'],
      env,
    ),
  ).token;
  await rosterCli(dir, ['seed', '--account', account.id, '--users', String(users)], env);
  return { account: account.id, token };
}
