import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/roster', import.meta.url));

export interface RosterProcess {
  readonly origin: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Spawns `node bin/roster serve` (the built CLI: run `npm run build` first) on
 * 127.0.0.1 with an ephemeral port, and waits until it listens.
 */
export async function spawnRoster(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<RosterProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`roster did not start within 20 s:\n${output}`)),
      20_000,
    );
    const onData = (): void => {
      const match = /roster listening on (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`roster exited (${code}) before listening:\n${output}`));
    });
  });
  return { origin, child, output: () => output, exited, kill: (signal) => void child.kill(signal) };
}

/** Stops a child that may already be gone (SIGKILL after a grace period). */
export async function stopRoster(
  roster: RosterProcess,
  graceMs = 10_000,
): Promise<number | string> {
  if (roster.child.exitCode !== null || roster.child.signalCode !== null) return roster.exited;
  roster.kill('SIGTERM');
  const timer = setTimeout(() => roster.kill('SIGKILL'), graceMs);
  const code = await roster.exited;
  clearTimeout(timer);
  return code;
}
