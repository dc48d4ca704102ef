// Hardening cases for repeatable SQL (a profile's repeatable/ folder): see
// test/failures/catalogue.ts for what a case is. The app's folder holds drizzle/ and
// repeatable/ side by side, so the repeatable folder is found by the default rule.
import type { FailureCase } from '../types.ts';

export const repeatableCases: FailureCase[] = [
  {
    id: 'repeatable.changed-not-applied',
    group: 'verify',
    title: 'A repeatable file edited and not applied yet',
    did: 'Edited a repeatable SQL file (a view) after the upgrade applied it, then ran verify before the next upgrade.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'repeatable.pending',
    message:
      'repeatable/10_views.sql changed since it was applied ({time}, ' +
      'sha256 {old}, now {new}) and the change is not applied',
    hint: 'apply it: npx zx upgrade.ts (npx zx upgrade.ts --dry-run lists what it applies first)',
    exit: 4,
    changed: 'nothing',
    test: 'failures-repeatable.test.ts',
    note:
      'A repeatable file that is new, or whose sha256 differs from the one upkit.repeatable holds, ' +
      'is an error: the database lacks what this release defines, and only an upgrade applies ' +
      'it (the dry run names it: `repeatable: 10_views.sql (changed since it was last applied)`).',
  },
  {
    id: 'repeatable.view-dropped',
    group: 'verify',
    title: 'A view a repeatable file defines was dropped',
    did:
      'Dropped (by hand) a view that a repeatable SQL file creates ' +
      '(and grants SELECT on), after the upgrade applied the file.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'repeatable.object_missing',
    message:
      'repeatable/10_views.sql defines view note_titles, SELECT on note_titles to {role}, ' +
      'which the database no longer has (dropped or revoked since {time})',
    hint: 'run the upgrade again, which applies the file again: npx zx upgrade.ts',
    exit: 4,
    changed: 'nothing',
    test: 'failures-repeatable.test.ts',
    note:
      "What a file defines is read from its statements with PostgreSQL's parser: views and materialized views, " +
      'functions and procedures (by name and number of arguments), policies, triggers, row level security enabled, ' +
      'and grants on tables, sequences, schemas and databases (`ON ALL TABLES IN SCHEMA` covers every ' +
      'table there now). The bodies of DO blocks are not read. The upgrade applies the file again because of it.',
  },
  {
    id: 'repeatable.grant-revoked',
    group: 'verify',
    title: 'A grant a repeatable file makes was revoked',
    did: 'Revoked (by hand) a SELECT that a repeatable SQL file grants to a role, after the upgrade applied the file.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'repeatable.object_missing',
    message:
      'repeatable/10_views.sql defines SELECT on note_titles to {role}, ' +
      'which the database no longer has (dropped or revoked since {time})',
    hint: 'run the upgrade again, which applies the file again: npx zx upgrade.ts',
    exit: 4,
    changed: 'nothing',
    test: 'failures-repeatable.test.ts',
  },
  {
    id: 'repeatable.transaction-control',
    group: 'migrations',
    title: 'A repeatable file that commits or begins transactions itself',
    did: 'Wrote `COMMIT;` (or BEGIN, SAVEPOINT, CREATE INDEX CONCURRENTLY) in a repeatable SQL file.',
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'repeatable.transaction_control',
    message:
      'repeatable/20_commit.sql:2: COMMIT: a repeatable file runs in one transaction upkit opens (with its ledger ' +
      'row), so it may not begin, end or split transactions itself, nor run what PostgreSQL refuses inside one',
    hint:
      'remove that statement from {file} (upkit commits the file as a whole), ' +
      'then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (refused by the plan, read-only, before the first write)',
    test: 'failures-repeatable.test.ts',
  },
  {
    id: 'repeatable.session-setting',
    group: 'migrations',
    title: 'A repeatable file that changes a setting for the whole session',
    did:
      'Wrote `SET search_path = pg_catalog;` (a SET without LOCAL, ' +
      'RESET or DISCARD) at the top of a repeatable SQL file.',
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'repeatable.session_setting',
    message:
      'repeatable/20_settings.sql:1: SET search_path = pg_catalog: a setting changed for the whole ' +
      "session would outlast the file's transaction, for the files after it and for verification",
    hint:
      "use SET LOCAL (it ends with the file's transaction) " +
      'in {file}, then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (refused by the plan, read-only, before the first write)',
    test: 'failures-repeatable.test.ts',
  },
  {
    id: 'repeatable.sql-error',
    group: 'migrations',
    title: 'A repeatable file whose SQL fails',
    did: 'Wrote a repeatable SQL file whose second statement names a table that does not exist.',
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'repeatable.failed',
    message:
      'repeatable/30_broken.sql:2:37: ERROR 42P01: relation "no_such_table" does not exist ' +
      '(rolled back: nothing of repeatable/30_broken.sql was kept; nothing was changed)',
    details: ['2 | CREATE VIEW broken AS SELECT * FROM no_such_table;', '                                        ^'],
    hint: 'fix repeatable/30_broken.sql, then run the upgrade again',
    exit: 3,
    changed:
      'nothing of the file (its view and its ledger row are rolled back together); the run is recorded in upkit.runs',
    test: 'failures-repeatable.test.ts',
  },
  {
    id: 'repeatable.destructive',
    group: 'migrations',
    title: 'A repeatable file with a destructive statement',
    did: 'Wrote a repeatable SQL file that truncates a table holding rows.',
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.destructive',
    message: '1 destructive statement pending: repeatable/40_reset.sql:1 empties table notes (every row is deleted)',
    hint:
      'review them; if they are intended, run again with ' +
      '--allow-destructive=repeatable/40_reset (a backup is taken first); nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-repeatable.test.ts',
    note:
      'Repeatable files are linted with the migrations, in the order they run; ' +
      'a destructive statement needs the same acceptance (`--allow-destructive`, ' +
      'or `--allow-destructive=repeatable/NAME`, or `-- upkit:safe <why>` on the line before it).',
  },
];
