import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/app/webhooks/signature.js';

/**
 * The docs run as written. Every ```sh block of README.md and docs/*.md is executed, in
 * order, one bash script per file, exactly as a reader would type it in a fresh clone:
 *
 * - The working directory is a fresh temporary directory holding links to the
 *   repository's bin/, dist/, examples/, docs/, node_modules/ and package.json, so the
 *   default configuration (`./data/roster.db`) starts empty and nothing lands in the tree.
 * - The environment is clean (PATH, HOME, TMPDIR, LANG only): no test-only variables
 *   such as WEBHOOK_ALLOW_PRIVATE leak in; a doc has to say what it needs.
 * - Shell variables carry values from one block to the next (`ACCOUNT=$(... | jq -r .id)`),
 *   since all blocks of a file run in one shell, under `set -euo pipefail`.
 * - `npm start` (with any `VAR=value` prefixes) starts `bin/roster serve` in the
 *   background, as "in another terminal", and waits until it listens; a second one
 *   replaces the first. Any other npm command fails: such blocks are ```sh illustrative.
 * - Two mechanical substitutions give each run free ports: `127.0.0.1:8080` (the
 *   server's default address) and `127.0.0.1:4000` / `PORT=4000` (the example webhook
 *   receiver's).
 * - Blocks marked ```sh illustrative are skipped (installs, long runs, other hosts). A
 *   ```bash, ```shell or ```console block fails the test: mark it one way or the other.
 *
 * A failing block fails the test with the block and everything it printed.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const FILE_TIMEOUT_MS = 240_000; // a hang guard: a loaded machine runs the docs slowly
const MARK = '@@docs-block';

export interface ShellBlock {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
  readonly illustrative: boolean;
}

/** The shell blocks of a Markdown file, in order. */
export function shellBlocks(markdown: string, file: string): ShellBlock[] {
  const blocks: ShellBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, , fence, lang = '', rest = ''] = open;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.trim().startsWith(fence!); i++) body.push(lines[i]!);
    if (['bash', 'shell', 'console', 'zsh'].includes(lang)) {
      throw new Error(
        `${file}:${start + 1}: a \`\`\`${lang} block: write \`\`\`sh (executed by test/docs) or \`\`\`sh illustrative`,
      );
    }
    if (lang !== 'sh') continue;
    const illustrative = rest.trim() === 'illustrative';
    if (rest.trim() !== '' && !illustrative) {
      throw new Error(`${file}:${start + 1}: unknown block marker "${rest.trim()}"`);
    }
    blocks.push({ line: start + 1, code: body.join('\n'), illustrative });
  }
  return blocks;
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

/** Shell prelude: `npm start` in the background (see above), other npm commands refused. */
function prelude(serverPort: number): string {
  return `set -euo pipefail
__docs_server_pid=
npm() {
  if [ "$*" != "start" ]; then
    echo "docs test: 'npm $*' is not run here; mark the block: sh illustrative" >&2
    return 1
  fi
  if [ -n "$__docs_server_pid" ]; then kill "$__docs_server_pid" 2>/dev/null || true; wait "$__docs_server_pid" 2>/dev/null || true; fi
  PORT=${serverPort} node bin/roster serve > .server.log 2>&1 &
  __docs_server_pid=$!
  for _ in $(seq 1 200); do
    if grep -q 'roster listening on' .server.log; then cat .server.log; return 0; fi
    if ! kill -0 "$__docs_server_pid" 2>/dev/null; then cat .server.log >&2; return 1; fi
    sleep 0.1
  done
  echo "docs test: the server did not listen within 20 s" >&2; cat .server.log >&2; return 1
}
`;
}

interface FileRun {
  code: number | null;
  output: string;
  serverLog: string;
}

async function runFile(
  blocks: ShellBlock[],
  ports: { server: number; receiver: number },
): Promise<FileRun> {
  const dir = mkdtempSync(join(tmpdir(), 'roster-docs-'));
  for (const entry of ['bin', 'dist', 'examples', 'docs', 'node_modules', 'package.json']) {
    symlinkSync(join(ROOT, entry), join(dir, entry));
  }
  const script = [
    prelude(ports.server),
    ...blocks.map((block, index) =>
      [
        `printf '\\n${MARK} ${index}@@\\n'; date +%T.%N >&2`,
        block.code
          .replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.server}`)
          .replaceAll('127.0.0.1:4000', `127.0.0.1:${ports.receiver}`)
          .replace(/\bPORT=4000\b/g, `PORT=${ports.receiver}`),
      ].join('\n'),
    ),
    `printf '\\n${MARK} end@@\\n'`,
  ].join('\n');
  const child = spawn('bash', ['--noprofile', '--norc', '-c', script], {
    cwd: dir,
    detached: true, // its own process group: background servers and receivers go with it
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? dir,
      TMPDIR: tmpdir(),
      LANG: 'C.UTF-8',
    },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const timer = setTimeout(() => killGroup(child.pid), FILE_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => resolve(exitCode)),
  );
  clearTimeout(timer);
  killGroup(child.pid); // the server and receivers the blocks started in the background
  await new Promise((resolve) => setTimeout(resolve, 200)); // their last output
  const serverLog = existsSync(join(dir, '.server.log'))
    ? readFileSync(join(dir, '.server.log'), 'utf8')
    : '';
  rmSync(dir, { recursive: true, force: true });
  return { code, output, serverLog };
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // the group is gone already
  }
}

/** Splits a run's output at the block markers: output[i] is what block i printed. */
function outputs(output: string): Map<string, string> {
  const parts = new Map<string, string>();
  const re = new RegExp(`\\n${MARK} (\\w+)@@\\n`, 'g');
  let last: { key: string; from: number } | undefined;
  for (const match of output.matchAll(re)) {
    if (last) parts.set(last.key, output.slice(last.from, match.index));
    last = { key: match[1]!, from: match.index! + match[0].length };
  }
  if (last) parts.set(last.key, output.slice(last.from));
  return parts;
}

describe('docs run as written', () => {
  it('has jq and a built dist/ (npm test builds first)', () => {
    expect(spawnSync('jq', ['--version']).status, 'jq is needed by the documented commands').toBe(
      0,
    );
    expect(existsSync(join(ROOT, 'dist/cli/main.js')), 'run `npm run build` first').toBe(true);
  });

  for (const file of DOCS) {
    const blocks = shellBlocks(readFileSync(join(ROOT, file), 'utf8'), file);
    const runnable = blocks.filter((block) => !block.illustrative);
    if (runnable.length === 0) continue;
    // Files run side by side: each has its own directory, database and ports.
    it.concurrent(
      `${file}: ${runnable.length} sh blocks run`,
      async () => {
        const run = await runFile(runnable, {
          server: await freePort(),
          receiver: await freePort(),
        });
        const parts = outputs(run.output);
        if (run.code !== 0) {
          const failed = [...parts.keys()].filter((key) => key !== 'end').at(-1);
          const block = failed === undefined ? undefined : runnable[Number(failed)];
          throw new Error(
            [
              `${file}: the block at line ${block?.line ?? '?'} failed (exit ${run.code}):`,
              block?.code ?? '(before the first block)',
              '--- its output ---',
              (failed === undefined ? run.output : parts.get(failed))?.trim() ?? '',
              '--- server log ---',
              run.serverLog.trim().split('\n').slice(-30).join('\n'),
            ].join('\n'),
          );
        }
        if (process.env.DOCS_TEST_VERBOSE) console.log(run.output);
        expect(parts.has('end')).toBe(true);
      },
      FILE_TIMEOUT_MS + 10_000,
    );
  }
});

describe('what the docs promise', () => {
  /** Every environment variable the code reads has a row in the README's configuration table. */
  it('documents every environment variable src/ reads', () => {
    const read = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
          const source = readFileSync(path, 'utf8');
          for (const match of source.matchAll(/env(?:\.|\[['"]|, ['"])([A-Z][A-Z0-9_]+)/g))
            read.add(match[1]!);
        }
      }
    };
    walk(join(ROOT, 'src'));
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5),
    );
    const documented = new Set([...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)`/gm)].map((m) => m[1]!));
    expect(read.size).toBeGreaterThan(10);
    expect([...read].filter((name) => !documented.has(name)).sort()).toEqual([]);
  });

  it('ships the signature check as roster/verify, as README and docs/events.md import it', async () => {
    // As a receiver imports it: `roster/verify`, through package.json's export map, from dist/.
    const now = Math.floor(Date.now() / 1000);
    const body = '{"events":[]}';
    const script = `
      import { verifySignature } from 'roster/verify';
      const [good, old] = JSON.parse(process.argv[1]);
      const body = Buffer.from(${JSON.stringify(body)});
      console.log(JSON.stringify([
        verifySignature('whsec_x', good, body),
        verifySignature('whsec_x', old, body),
        verifySignature('whsec_x', undefined, body),
        verifySignature('whsec_x', 't=1,v1=zz', body),
      ]));`;
    const result = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        script,
        JSON.stringify([
          signatureHeader('whsec_x', now, body),
          signatureHeader('whsec_x', now - 301, body),
        ]),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([true, false, false, false]);
    for (const doc of ['README.md', 'docs/events.md', 'examples/webhook-receiver.mjs']) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      expect(text, doc).toContain("from 'roster/verify'");
      expect(text, doc).not.toContain('createHmac');
    }
  });

  it('links only to files inside the repository', () => {
    for (const file of DOCS) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // an absolute URL, not a path
        const resolved = join(ROOT, file.includes('/') ? 'docs' : '', target!);
        expect(resolved.startsWith(ROOT), `${file} links ${target} outside the repository`).toBe(
          true,
        );
        expect(existsSync(resolved), `${file} links ${target}, which does not exist`).toBe(true);
      }
      expect(text, `${file} names a path outside the repository`).not.toMatch(/\.\.\/shared\//);
    }
  });
});

describe('shellBlocks', () => {
  it('finds sh blocks, honours illustrative, refuses unmarked shell dialects', () => {
    const md = '# x\n```sh\necho 1\n```\n\n```sh illustrative\nnpm ci\n```\n```json\n{}\n```\n';
    expect(shellBlocks(md, 'x.md')).toEqual([
      { line: 2, code: 'echo 1', illustrative: false },
      { line: 6, code: 'npm ci', illustrative: true },
    ]);
    expect(() => shellBlocks('```bash\nls\n```\n', 'y.md')).toThrow(/y\.md:1: a ```bash block/);
  });
});
