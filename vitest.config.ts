import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Forks, not threads: better-sqlite3 is a native module and the CLI tests spawn processes.
    pool: 'forks',
  },
});
