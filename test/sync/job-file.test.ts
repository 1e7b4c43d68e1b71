import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configHash, JobConfigError, loadJobFile } from '../../src/sync/job.js';

describe('job files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-jobs-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads YAML jobs, resolving source paths beside the file', async () => {
    const file = join(dir, 'jobs.yaml');
    await writeFile(
      file,
      [
        'jobs:',
        '  - id: people',
        '    source: { type: csv, users: hr/users.csv, groups: hr/groups.csv }',
        '    target: { url: "https://app.example.com/scim/v2", tokenEnv: APP_TOKEN, dialect: entra-2020 }',
        '    scope:',
        '      userFilters:',
        '        - - { attribute: department, operator: EQUALS, value: R&D }',
      ].join('\n'),
    );
    const [job] = await loadJobFile(file);
    expect(job).toMatchObject({
      id: 'people',
      source: { type: 'csv', users: join(dir, 'hr/users.csv'), groups: join(dir, 'hr/groups.csv') },
      target: { dialect: 'entra-2020', tokenEnv: 'APP_TOKEN' },
    });
    // Scoping is part of the hash: changing it forces a full cycle.
    expect(configHash(job!)).not.toBe(configHash({ ...job!, scope: {} }));
  });

  it('reads a single JSON job and explains a bad one', async () => {
    const good = join(dir, 'one.json');
    await writeFile(
      good,
      JSON.stringify({
        id: 'a',
        source: { type: 'json', path: 'p.json' },
        target: { url: 'http://x' },
      }),
    );
    expect((await loadJobFile(good)).map((j) => j.id)).toEqual(['a']);
    const bad = join(dir, 'bad.json');
    await writeFile(
      bad,
      JSON.stringify({
        id: 'a',
        source: { type: 'json', path: 'p.json' },
        target: { url: 'http://x', dialect: 'soap' },
      }),
    );
    await expect(loadJobFile(bad)).rejects.toThrow(JobConfigError);
    await expect(loadJobFile(bad)).rejects.toThrow(/dialect/);
    await expect(loadJobFile(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read/);
  });
});
