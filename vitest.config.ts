import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration files mostly wait on PostgreSQL, so two workers pay off even on two cores;
    // the cap keeps a shared TEST_DATABASE_URL server from being flooded on big machines.
    // Set at the root: vitest refuses projects with different maxWorkers in one group.
    maxWorkers: Math.min(8, Math.max(2, availableParallelism())),
    fileParallelism: true,
    // vitest's default, spelled out: the clusters a test file starts then belong to a process
    // of their own, whose 'exit' hook (servers/system.ts) stops them if the worker is ended.
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
