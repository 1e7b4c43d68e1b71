import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Forks, not threads: better-sqlite3 is a native module and the CLI tests spawn processes.
    pool: 'forks',
    // Tests deliver webhooks to receivers on 127.0.0.1, which production refuses
    // (src/app/webhooks/destination.ts); child servers inherit this too.
    env: { WEBHOOK_ALLOW_PRIVATE: '1' },
  },
});
