// Hardening cases: a restore whose pg_restore runs with parallel jobs (no single
// transaction) and fails or is stopped part way. The database upkit created for it is
// dropped, and only that one. See test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const restoreSpeedCases: FailureCase[] = [
  {
    id: 'restore.fails-late',
    group: 'restore',
    title: 'In-place restore whose pg_restore fails on a late entry, after the data is in',
    did:
      'Restored in place a backup of a database with an index on a function whose ' +
      'body names a table without its schema: pg_restore loads every table, ' +
      'then fails building that index (pg_restore runs with an empty search_path).',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'pg_restore → {restored}',
    code: 'restore.pg_restore_failed',
    message: 'pg_restore failed in {restored}: ERROR: relation "lookup" does not exist',
    details: [
      'LINE 1: v + (select count(*) from lookup)::int * 0',
      '^',
      'from TOC entry {entry}; 1259 {oid} INDEX items_pick {user}',
    ],
    hint: "see the log file for pg_restore's full output; {restored} was dropped; {database} was not changed",
    exit: 3,
    changed:
      "nothing: the new database, which pg_restore's parallel jobs had filled up to the failing " +
      "entry (each table's data committed on its own), was dropped; the live database was not touched",
    note:
      'pg_restore runs with parallel jobs (`--jobs`), not in one transaction, ' +
      'so the tables loaded before the failure are committed in the new database; the guarantee is ' +
      'that upkit drops that database, which it created for this restore, on any failure.',
    test: 'failures-restore-jobs.test.ts',
  },
  {
    id: 'restore.sigterm-jobs',
    group: 'restore',
    title: 'In-place restore stopped (SIGTERM) while pg_restore builds an index in parallel jobs',
    did:
      "Sent SIGTERM to an in-place restore while pg_restore's jobs were building " +
      'an index in the new database (the test makes that index slow to build).',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'pg_restore → {restored}',
    code: 'interrupted',
    message: 'interrupted by SIGTERM',
    hint: null,
    exit: 130,
    changed:
      'nothing: pg_restore and its jobs were ended, the new database was dropped, the live database was not touched',
    test: 'failures-restore-jobs.test.ts',
  },
];
