// Hardening cases for any drizzle app: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const appfitCases: FailureCase[] = [
  {
    id: 'app.search-path-setting-empty',
    group: 'schema',
    title: 'UPKIT_SEARCH_PATH that names no schema (an app)',
    did: "Ran another app's migrations (`--drizzle-dir`) with `UPKIT_SEARCH_PATH=,`: a search_path that lists nothing.",
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', UPKIT_SEARCH_PATH: ',' },
    code: 'config.invalid',
    message: 'UPKIT_SEARCH_PATH: names no schema (a search_path value, e.g. "$user", app, public)',
    hint: 'fix UPKIT_SEARCH_PATH in the environment, then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-appfit-search-path.test.ts',
    note:
      "For an app, every session pins the search_path of the URL's `options`, else UPKIT_SEARCH_PATH, " +
      'else the one the server sets for the role and database (read at the first connect, ' +
      'with no inherited PGOPTIONS); for Pulse, search_path is `public` and any other schema is refused, as before.',
  },
  {
    id: 'app.transaction-control',
    group: 'schema',
    title: 'A migration that rolls back or sets a savepoint of its own (an app)',
    did:
      'Upgraded an app with two pending migrations, the second holding ' +
      '`SAVEPOINT s1;` and `ROLLBACK TO SAVEPOINT s1;` between its statements.',
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'drizzle.transaction_control',
    message:
      '0002_savepoint.sql:3: SAVEPOINT s1 controls the transaction in a way ' +
      'upkit does not run (only BEGIN and COMMIT are followed, in file order)',
    hint:
      'remove it from {dir}/0002_savepoint.sql (or apply 0002_savepoint by hand and record it: ' +
      'npx zx scripts/mark.ts --help), then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (the plan refuses it read-only: the migration before it is not applied either)',
    test: 'failures-appfit-transactions.test.ts',
    note:
      'Found by the plan, before the lock and the backup. Before, the first migration was ' +
      'applied and the run stopped at the second with exit 3 while the database had changed.',
  },
  {
    id: 'app.plan-lock-timeout',
    group: 'concurrency',
    title: "The database's own lock_timeout ends the plan's read behind a busy ledger",
    did:
      "Upgraded an app whose database sets `lock_timeout = '100ms'` (ALTER DATABASE … SET) " +
      "while another session held drizzle's ledger locked exclusively.",
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'pg.55P03',
    message:
      'ERROR 55P03: canceling statement due to lock timeout (while ' +
      'reading the database, before any change; nothing was changed)',
    details: [
      'pid {pid} (upkit test holder) holds AccessExclusiveLock on drizzle.__drizzle_migrations for {seconds} s, ' +
        'idle in transaction: lock table drizzle.__drizzle_migrations in access exclusive mode',
    ],
    hint:
      'wait for that work to end, or stop it with: SELECT pg_cancel_backend({pid}); ' +
      'then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (the plan only reads; upkit.runs has no row for it)',
    test: 'failures-appfit-transactions.test.ts',
    note:
      'Any error PostgreSQL raises before the run changes anything is a refusal (exit 3) ' +
      'that says nothing was changed; a lock wait names the sessions it stood behind. Before, ' +
      'the bare ERROR came with exit 1, "failed after changes began". The plan\'s reads also run ' +
      "under upkit's statement timeout (MIGRATION_TIMEOUT), not one the role or database sets.",
  },
  {
    id: 'app.check-privilege',
    group: 'schema',
    title: 'A new foreign key to a table the role may reference but not read',
    did:
      'Upgraded an app, as a role that is not a superuser, with a pending migration adding ' +
      "a foreign key to another team's table on which the role has REFERENCES but not SELECT.",
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'check.privilege',
    message:
      "upkit's checks before the first write may not read what a pending statement " +
      'touches (ERROR 42501: permission denied for table team_ext); nothing was changed',
    hint:
      'run as an administrator: GRANT SELECT ON TABLE "team_ext" TO "{role}"; ' +
      '(or connect as its owner), then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (the plan only reads)',
    test: 'failures-appfit-transactions.test.ts',
    note:
      'The orphan count of a new foreign key reads the referenced table. Before, ' +
      "the refusal said it was a defect in upkit's own checks, to be reported to its maintainers.",
  },
];
