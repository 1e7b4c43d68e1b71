/* global fetch */
// A SCIM request (GET by id by default) against one build under two server environments, alternated per round:
// req/s and Roster CPU µs per request (/proc). For questions like "what does the SQLite
// commit mode or a setting cost a read".
//   node bench/get-env-ab.mjs [--path id|username|list|post] [--users 10000] [--rounds 3] [--seconds 5] DIR 'A=ENV=v,...' 'B=ENV=v,...'
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchTenant, cpuMs, serveBuild } from './ab-common.mjs';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    users: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    path: { type: 'string', default: 'id' },
  },
});
const [dir, ...variants] = positionals;
const parsed = variants.map((v) => {
  const [tag, rest] = v.split(/=(.*)/s);
  const env = Object.fromEntries(
    (rest ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split(/=(.*)/s)),
  );
  return { tag, env };
});
const work = mkdtempSync(join(tmpdir(), 'get-env-ab-'));
const base = {
  DATABASE_URL: `sqlite:${join(work, 'db.sqlite')}`,
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_SECOND: '0',
};
const { account, token } = await benchTenant(resolve(dir), base, Number(o.users));
const results = Object.fromEntries(parsed.map((p) => [p.tag, []]));
for (let round = 0; round < Number(o.rounds); round++) {
  const order = round % 2 === 0 ? parsed : [...parsed].reverse();
  for (const { tag, env } of order) {
    const server = await serveBuild(resolve(dir), { ...base, ...env });
    const headers = { authorization: `Bearer ${token}` };
    const scim = `${server.origin}/api/v1/scim/azure/${account}`;
    const page = await (await fetch(`${scim}/Users?count=100`, { headers })).json();
    const ids = page.Resources.map((r) => r.id);
    const names = page.Resources.map((r) => r.userName);
    let i = 0;
    const scimPath = `/api/v1/scim/azure/${account}`;
    const request = () => {
      i++;
      if (o.path === 'id')
        return { method: 'GET', path: `${scimPath}/Users/${ids[i % ids.length]}` };
      if (o.path === 'username')
        return {
          method: 'GET',
          path: `${scimPath}/Users?filter=${encodeURIComponent(`userName eq "${names[i % names.length]}"`)}`,
        };
      if (o.path === 'list')
        return {
          method: 'GET',
          path: `${scimPath}/Users?startIndex=${1 + Math.floor(Math.random() * (Number(o.users) - 100))}&count=100`,
        };
      if (o.path === 'post') {
        const userName = `ab-${round}-${tag}-${i}-${Math.random().toString(36).slice(2)}@example.com`;
        return {
          method: 'POST',
          path: `${scimPath}/Users`,
          headers: { ...headers, 'content-type': 'application/scim+json' },
          body: JSON.stringify({
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName,
            name: { givenName: 'Ada', familyName: 'Lovelace' },
            emails: [{ value: userName, type: 'work', primary: true }],
            active: true,
          }),
        };
      }
      throw new Error(`--path must be id, username, list or post, got ${o.path}`);
    };
    await autocannon({
      url: server.origin,
      connections: 10,
      duration: 2,
      headers,
      requests: [{ setupRequest: (r) => ({ ...r, ...request() }) }],
    });
    const before = cpuMs(server.pid);
    const r = await autocannon({
      url: server.origin,
      connections: 10,
      duration: Number(o.seconds),
      headers,
      requests: [{ setupRequest: (r) => ({ ...r, ...request() }) }],
    });
    const cpu = cpuMs(server.pid) - before;
    const n = r.requests.total;
    results[tag].push({
      rps: Math.round(r.requests.average),
      cpuUs: Math.round((cpu * 1000) / n),
      non2xx: r.non2xx,
    });
    await server.stop();
    console.log(
      `round ${round + 1} ${tag}: ${Math.round(r.requests.average)} req/s, ${Math.round((cpu * 1000) / n)} µs CPU/req, non-2xx ${r.non2xx}`,
    );
  }
}
console.log(JSON.stringify(results));
