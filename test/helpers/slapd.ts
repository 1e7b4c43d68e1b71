import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';

export const SLAPD = '/usr/sbin/slapd';
export const SLAPADD = '/usr/sbin/slapadd';

export interface Slapd {
  readonly url: string;
  readonly suffix: string;
  readonly rootDn: string;
  readonly rootPw: string;
  /** A client bound as the root DN (the caller unbinds it). */
  admin(): Promise<Client>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A real OpenLDAP slapd (Debian's package) on a free 127.0.0.1 port, with a generated
 * slapd.conf and an mdb database in a temp dir holding dc=example,dc=com, ou=people and
 * ou=groups (and `entries`, LDIF loaded with slapadd). Throws (never skips) when slapd is not installed.
 */
export async function startSlapd(options: { entries?: string } = {}): Promise<Slapd> {
  for (const binary of [SLAPD, SLAPADD])
    if (!existsSync(binary))
      throw new Error(
        `${binary} not found: the LDAP engine test needs OpenLDAP (apt-get install slapd ldap-utils)`,
      );
  const dir = await mkdtemp(join(tmpdir(), 'roster-slapd-'));
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  const suffix = 'dc=example,dc=com';
  const rootDn = `cn=admin,${suffix}`;
  const rootPw = 'secret';
  const conf = join(dir, 'slapd.conf');
  await writeFile(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'include /etc/ldap/schema/nis.schema',
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'sizelimit unlimited',
      'database mdb',
      'maxsize 104857600',
      `suffix "${suffix}"`,
      `rootdn "${rootDn}"`,
      `rootpw ${rootPw}`,
      `directory ${dataDir}`,
      'index objectClass eq',
      '',
    ].join('\n'),
  );
  const ldif = join(dir, 'base.ldif');
  await writeFile(
    ldif,
    [
      `dn: ${suffix}`,
      'objectClass: dcObject',
      'objectClass: organization',
      'o: Example',
      'dc: example',
      '',
      `dn: ou=people,${suffix}`,
      'objectClass: organizationalUnit',
      'ou: people',
      '',
      `dn: ou=groups,${suffix}`,
      'objectClass: organizationalUnit',
      'ou: groups',
      '',
      // Entries loaded offline keep the operational attributes they are given
      // (modifyTimestamp, createTimestamp), as slapadd restores a slapcat dump.
      ...(options.entries !== undefined ? [options.entries, ''] : []),
    ].join('\n'),
  );
  const added = spawnSync(SLAPADD, ['-f', conf, '-l', ldif], { encoding: 'utf8' });
  if (added.status !== 0)
    throw new Error(`slapadd failed (${added.status}): ${added.stderr || added.error}`);

  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  let stderr = '';
  const child: ChildProcess = spawn(SLAPD, ['-h', `${url}/`, '-f', conf, '-d', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));

  const admin = async () => {
    const client = new Client({ url, timeout: 10_000, connectTimeout: 2_000 });
    await client.bind(rootDn, rootPw);
    return client;
  };
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Ready when a bind succeeds.
  for (let attempt = 0; ; attempt++) {
    if (exited) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`slapd exited at start: ${stderr}`);
    }
    try {
      const client = await admin();
      await client.unbind();
      break;
    } catch (error) {
      if (attempt >= 100) {
        await stop();
        throw new Error(`slapd did not answer on ${url}: ${String(error)} ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, suffix, rootDn, rootPw, admin, stop };
}
