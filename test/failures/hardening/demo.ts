// Cases of the developer demo (scripts/demo.ts): see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const demoCases: FailureCase[] = [
  {
    id: 'demo.no-pg-dump',
    group: 'tools',
    title: 'The demo on a machine without PostgreSQL',
    did:
      'Ran `npm run demo` on a machine with no PostgreSQL programs at all (tried with ' +
      '`UPKIT_TEST_HIDE_SYSTEM_PG=all`): the demo starts embedded PostgreSQL, and no pg_dump here can back it up.',
    entry: 'scripts/demo.ts',
    args: ['--users', '20'],
    env: { UPKIT_TEST_HIDE_SYSTEM_PG: 'all' },
    severity: 'warning',
    code: 'demo.no_pg_dump',
    message:
      'no pg_dump for PostgreSQL {major} on this machine: ' +
      'the demo upgrades without a backup (--no-backup); a real upgrade refuses',
    hint: null,
    exit: 0,
    changed: "only the demo's throwaway server, upgraded to the latest release and verified, then removed",
    test: 'failures-demo.test.ts',
    json: false,
    note:
      'Where a pg_dump is here, the demo starts the newest embedded major it can back up (pg_dump 15: ' +
      'embedded PostgreSQL 15) and the upgrade takes its backup. Before, the demo started ' +
      'embedded PostgreSQL 17, the upgrade refused (no pg_dump 17, exit 3) and verify exited 4. ' +
      'The upgrade itself, run without --no-backup, still refuses without a pg_dump (tools.no-pg-dump).',
  },
  {
    id: 'demo.users',
    group: 'command-line',
    title: 'A demo size that is not a number of users',
    did: 'Ran `npm run demo -- --users lots`.',
    entry: 'scripts/demo.ts',
    args: ['--users', 'lots'],
    code: 'usage',
    message: '--users must be a whole number of users from 1 to 100000, got "lots"',
    hint: 'run: npm run demo -- --users 200',
    exit: 2,
    changed: 'nothing (no server was started)',
    test: 'failures-demo.test.ts',
    json: false,
    note:
      'Before, the demo started its server, failed to build an install of NaN users ' +
      '(column "nan" does not exist) and crashed with an unhandled error event.',
  },
  {
    id: 'demo.hide-value',
    group: 'command-line',
    title: 'An unknown UPKIT_TEST_HIDE_SYSTEM_PG for the demo',
    did: 'Ran `UPKIT_TEST_HIDE_SYSTEM_PG=yes npm run demo` (the values are 1 or all, server, 0).',
    entry: 'scripts/demo.ts',
    args: [],
    env: { UPKIT_TEST_HIDE_SYSTEM_PG: 'yes' },
    code: 'usage',
    message: "UPKIT_TEST_HIDE_SYSTEM_PG=yes is not one of 1, all, server, 0; unset it to use this machine's PostgreSQL",
    hint: 'run: UPKIT_TEST_HIDE_SYSTEM_PG=all npm run demo (or unset it)',
    exit: 2,
    changed: 'nothing (no server was started)',
    test: 'failures-demo.test.ts',
    json: false,
  },
  {
    id: 'demo.needs-full-install',
    group: 'install',
    title: 'The demo after the server install (npm ci --omit=dev)',
    did:
      'Ran `npm run demo` in an install made with `npm ci --omit=dev`: ' +
      'the test harness the demo runs on is not there.',
    entry: 'scripts/demo.ts',
    args: [],
    code: 'demo.needs_full_install',
    message:
      "the demo needs upkit's full install (npm ci): {package} is not " +
      'installed here (a server install, npm ci --omit=dev, leaves it out)',
    hint: 'run: npm ci, then npm run demo',
    exit: 2,
    changed: 'nothing (no server was started)',
    test: 'failures-demo.test.ts',
    json: false,
    note:
      "{package} is the first development package the demo's harness imports. The test runs a copy of upkit whose " +
      "node_modules lacks every devDependency. Before, Node's ERR_MODULE_NOT_FOUND stack trace ended the run.",
  },
];
