import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// bin/roster runs from dist/: `npm test` builds first; when running Vitest directly,
// run `npm run build` before.
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/roster', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to the command's standard input, then closed (empty by default). */
  input?: string | undefined;
  /** Variables of the test's own environment the command must not see. */
  unset?: readonly string[];
}

/** Runs `bin/roster ARGS` to its end with the test's environment plus `env`. */
export function roster(
  args: readonly string[],
  env: Record<string, string> = {},
  options: CliOptions = {},
): Promise<CliRun> {
  const base = { ...process.env };
  for (const name of options.unset ?? []) delete base[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
