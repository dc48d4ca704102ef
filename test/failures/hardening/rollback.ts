// Hardening cases, part two: see test/failures/catalogue.ts for what a case is.
// Rollback: a backup is the one the run took (by sha256, server and database, as upkit.runs
// recorded them), or rollback refuses it.
import type { FailureCase } from '../types.ts';

export const rollbackCases: FailureCase[] = [
  {
    id: 'rollback.backup-replaced',
    group: 'restore',
    title: "Rollback when the run's backup was replaced by another database's",
    did:
      'After an upgrade, replaced the backup file it took and its manifest ' +
      'by a backup of another database (same name), then ran rollback --yes.',
    entry: 'scripts/rollback.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.backup_replaced',
    message:
      '{file} is not the backup the upgrade of {time} took: its manifest names database {other}, ' +
      'the run recorded {database}; its manifest gives sha256 {otherSha}, ' +
      "the run recorded {sha}; the file's sha256 is {otherSha}, the run recorded {sha}",
    hint:
      "find that run's backup (npx zx scripts/status.ts lists the runs), or, if you mean this file, " +
      'restore it by name: npx zx scripts/restore.ts {file}; nothing was changed',
    exit: 3,
    changed: 'nothing (no database created, upkit.runs unchanged)',
    note:
      "upkit.runs records the backup's sha256, the server's system_identifier and the database when a run takes it. " +
      'Before, the ledger kept the path only and the other database was restored in place with one ⚠ line, exit 0.',
    test: 'failures-rollback.test.ts',
  },
  {
    id: 'rollback.backup-file-swapped',
    group: 'restore',
    title: "Rollback when only the backup's archive was replaced",
    did:
      "After an upgrade, replaced the backup's archive by another database's and edited its manifest (size, " +
      'sha256) to describe the new file, keeping the database name, then ran rollback --yes.',
    entry: 'scripts/rollback.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.backup_replaced',
    message:
      '{file} is not the backup the upgrade of {time} took: its manifest gives sha256 {otherSha}, ' +
      "the run recorded {sha}; the file's sha256 is {otherSha}, the run recorded {sha}",
    hint:
      "find that run's backup (npx zx scripts/status.ts lists the runs), or, if you mean this file, " +
      'restore it by name: npx zx scripts/restore.ts {file}; nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      'a manifest can be rewritten to match any file; ' +
      'the sha256 upkit.runs recorded cannot be, from the file system.',
    test: 'failures-rollback.test.ts',
  },
  {
    id: 'rollback.writes-since',
    group: 'restore',
    title: 'Rollback with --yes after the application wrote rows',
    did: 'After an upgrade, the application wrote rows (here: 3 rows in a new table); then ran rollback --yes.',
    entry: 'scripts/rollback.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.writes_since_backup',
    message:
      'since the upgrade of {time} finished, rows changed in 1 table: public.notes (absent) → 3; ' +
      'a rollback keeps them only in the database it sets aside ({database}_before_restore_…)',
    hint:
      'look at them first (npx zx scripts/status.ts), or confirm that they may go: ' +
      'npx zx scripts/rollback.ts --yes --discard-writes; nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      'the upgrade records the row counts it leaves in its upkit.runs report (rowsAfter); ' +
      "rollback compares them with the counts now (with the backup's manifest when the run recorded none). " +
      'Before, the rows ended up only in the *_before_restore_* copy with no warning.',
    test: 'failures-rollback.test.ts',
  },
  {
    id: 'rollback.discard-writes',
    group: 'restore',
    title: 'Rollback with --yes --discard-writes after the application wrote rows',
    did: 'As above, confirming with --discard-writes that the rows may go.',
    entry: 'scripts/rollback.ts',
    args: ['--yes', '--discard-writes'],
    env: { DATABASE_URL: '{url}' },
    severity: 'warning',
    code: 'rollback.writes_since_backup',
    message:
      'since the upgrade of {time} finished, rows changed in 1 table: public.notes (absent) → 3; ' +
      'a rollback keeps them only in the database it sets aside ({database}_before_restore_…)',
    hint: null,
    exit: 0,
    changed:
      'the database is the backup again; the one it replaced, with the 3 rows, ' +
      'is kept as {database}_before_restore_…; upkit.runs records the rollback with writesDiscarded and the tables',
    note: 'The warning is a finding of the --json report too (before: printed only).',
    test: 'failures-rollback.test.ts',
  },
  {
    id: 'rollback.writes-updated',
    group: 'restore',
    title: 'Rollback with --yes after the application updated rows (the counts unchanged)',
    did:
      'After an upgrade, the application updated one row of ' +
      'users (no row added or removed); then ran rollback --yes.',
    entry: 'scripts/rollback.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.writes_since_backup',
    message:
      'since the upgrade of {time} finished, rows changed in 1 table: public.users (same row count; ' +
      '1 updated); a rollback keeps them only in the database it sets aside ({database}_before_restore_…)',
    hint:
      'look at them first (npx zx scripts/status.ts), or confirm that they may go: ' +
      'npx zx scripts/rollback.ts --yes --discard-writes; nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      "The upgrade records, with its row counts, PostgreSQL's write statistics (pg_stat_user_tables: " +
      'rows inserted, updated, deleted; pg_stat_database.stats_reset) when it finishes, after flushing its own; ' +
      'rollback compares them. Before, row counts were the only evidence and an UPDATE was invisible. ' +
      'From PostgreSQL 15 (older servers send statistics late); when they were reset since, ' +
      "rollback says that the evidence is row counts only. A session's last writes reach the statistics when it goes " +
      'idle, at the latest about a second later (the test flushes them with pg_stat_force_next_flush()).',
    test: 'failures-rollback-writes.test.ts',
  },
  {
    id: 'rollback.writes-updated-discard',
    group: 'restore',
    title: 'Rollback with --yes --discard-writes after the application updated rows',
    did: 'As above, confirming with --discard-writes that the update may go.',
    entry: 'scripts/rollback.ts',
    args: ['--yes', '--discard-writes'],
    env: { DATABASE_URL: '{url}' },
    severity: 'warning',
    code: 'rollback.writes_since_backup',
    message:
      'since the upgrade of {time} finished, rows changed in 1 table: public.users (same row count; ' +
      '1 updated); a rollback keeps them only in the database it sets aside ({database}_before_restore_…)',
    hint: null,
    exit: 0,
    changed:
      'the database is the backup again (the updated row as it was); the one it replaced is kept as ' +
      '{database}_before_restore_…; upkit.runs records the rollback with writesDiscarded: true and the table',
    test: 'failures-rollback-writes.test.ts',
  },
  {
    id: 'rollback.down-commit',
    group: 'restore',
    title: 'Down migration that commits in the middle',
    did: 'Ran rollback --down --yes with a down file holding `COMMIT;` between two statements.',
    entry: 'scripts/rollback.ts',
    args: ['--down', '--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.down_transaction',
    message:
      '{file}:2: COMMIT controls the transaction: a down migration runs in one transaction ' +
      "with the change to drizzle's ledger, so that it applies whole or not at all",
    hint:
      'remove it from {file} (upkit opens and commits the transaction itself), ' +
      'then run the rollback again; nothing was changed',
    exit: 3,
    changed: 'nothing (refused from the parse, before the backup and before any statement runs)',
    note:
      'the down file is parsed with libpg-query first. Before, the statements before COMMIT ' +
      "stayed applied and the run reported 'failed and was rolled back … nothing was changed'.",
    test: 'failures-rollback.test.ts',
  },
  {
    id: 'rollback.down-destructive',
    group: 'restore',
    title: 'Down migration that drops a table',
    did:
      'Ran rollback --down --yes with a down file holding DROP ' +
      'TABLE of a table with rows, without --allow-destructive.',
    entry: 'scripts/rollback.ts',
    args: ['--down', '--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.down_destructive',
    message: '{file}:2: drops table notes and its data',
    hint:
      'if that loss is intended, add --allow-destructive (a verified backup is taken first), ' +
      'or mark the statement with -- upkit:safe <why>; nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      'the down file goes through the same lint as migrations; ' +
      'with --allow-destructive a verified backup is taken (and recorded in upkit.runs) before it runs. ' +
      'Before, the table was dropped with no backup and no check, exit 0.',
    test: 'failures-rollback.test.ts',
  },
  {
    id: 'rollback.down-error',
    group: 'restore',
    title: 'Down migration with an error in its second statement',
    did: 'Ran rollback --down --yes with a down file whose second statement names a column that does not exist.',
    entry: 'scripts/rollback.ts',
    args: ['--down', '--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.down_failed',
    message:
      '{file}:2:26: ERROR 42703: column "nosuch" does not exist; ' +
      'the down migration ran in one transaction, which was rolled back',
    details: ['2 | UPDATE "notes" SET "x" = "nosuch" WHERE "id" = 1;', '                             ^'],
    hint:
      'the database stands as before: 0004_notes is still applied, nothing was changed; ' +
      'fix {file}, or restore the backup instead: npx zx scripts/rollback.ts',
    exit: 3,
    changed:
      'nothing in the schema or data (the transaction was rolled back); ' +
      'upkit.runs records the rollback as refused, with the backup it took',
    test: 'failures-rollback.test.ts',
  },
  {
    id: 'rollback.down-interrupted',
    group: 'restore',
    title: 'SIGTERM to rollback --down while its backup is taken',
    did:
      'Ran rollback --down --yes --allow-destructive while a report held the table the down file drops, ' +
      'so that pg_dump waited; sent SIGTERM while it waited, then the report ended.',
    entry: 'scripts/rollback.ts',
    args: ['--down', '--yes', '--allow-destructive', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'interrupted',
    message:
      'interrupted by SIGTERM before the down migration ran; 0004_notes is still applied and nothing was changed',
    hint: 'run it again when ready: npx zx scripts/rollback.ts --down --yes --allow-destructive --drizzle-dir {dir}',
    exit: 130,
    changed: "nothing (the down file never ran; drizzle's ledger still has the entry)",
    note:
      'Before, the backup was not told of the signal: pg_dump finished once ' +
      'the lock was let go, then the down file ran and the command exited 0.',
    test: 'failures-rollback.test.ts',
  },
];
