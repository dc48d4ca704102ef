import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * The `long` project: integration tests that are long by nature (a scan of every process and
 * file, crash injection at each phase, a soak, several Node builds, `npm ci` in a copy, the
 * compiled tree in a copy, lock waits verify does not shorten, the demo, standby servers, runs
 * killed part way, runs over several databases). `npm test` leaves them out (unit + integration); `npm run test:long`
 * runs them, and CI (.ci/run) runs both. One list, chosen by measured duration: a file moves
 * here only when it is slow for what it checks, never to hide a failure.
 */
export const LONG_TESTS = [
  'test/integration/secret-scan.test.ts',
  'test/integration/crash-injection.test.ts',
  'test/integration/soak.test.ts',
  'test/integration/redaction.test.ts',
  'test/integration/install-omit-dev.test.ts',
  'test/integration/node-versions.test.ts',
  'test/integration/compiled.test.ts',
  // Waits out verify's fixed 5 s lock wait in each case.
  'test/integration/failures-verify-locked.test.ts',
  // The whole demo: an embedded server started, upgraded and verified.
  'test/integration/failures-demo.test.ts',
  // Standby servers started beside the test server.
  'test/integration/failures-startup-replicas.test.ts',
  // Runs killed part way (kill -9) and what the next run finds.
  'test/integration/upgrade-crash.test.ts',
  'test/integration/failures-rehearse-kill.test.ts',
  // Runs over a targets file of several databases, each upgraded and verified.
  'test/integration/targets.test.ts',
];

/** What integration and long share: the compiled tree made current first, then the test server. */
const integrationSetup = {
  globalSetup: ['test/support/buildSetup.ts', 'test/support/globalSetup.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

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
          exclude: LONG_TESTS,
          ...integrationSetup,
        },
      },
      {
        extends: true,
        test: {
          name: 'long',
          include: LONG_TESTS,
          ...integrationSetup,
        },
      },
    ],
  },
});
