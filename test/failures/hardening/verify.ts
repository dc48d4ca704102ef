// Hardening cases, part two: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

const BY_HAND = 'the migrations that made it are recorded, so it was changed by hand; repair it in psql: ';
const BYPASS_HINT = 'run as a superuser: ALTER ROLE "{user}" BYPASSRLS; then run: npx zx verify/index.ts';

export const verifyCases: FailureCase[] = [
  {
    id: 'verify.rls-seed',
    group: 'verify',
    title: 'Row level security hides seed rows from the read-only role',
    did:
      'Ran verify as the documented read-only role (LOGIN, USAGE, SELECT) on a v2.3 database whose organizations, ' +
      'permissions, roles and role_permissions have row level security with a policy for ' +
      'the application role only. verify used to report 25 seed rows missing (exit 4) that are there.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.row_security',
    message:
      'row level security hides rows of public.organizations, public.permissions, public.roles, ' +
      'public.role_permissions from role {user} (no BYPASSRLS, ' +
      'no policy that lets it read every row), so seed data was not checked',
    hint: BYPASS_HINT,
    exit: 4,
    changed: 'nothing (verify reads in one read-only transaction); no seed finding claims a row is missing',
    test: 'failures-verify-rls.test.ts',
    note:
      'A permissive policy `USING (true)` for the role (or PUBLIC) with no restrictive one, BYPASSRLS, ' +
      'or superuser: the rows are all visible, so seed data is checked as usual; the test checks that too.',
  },
  {
    id: 'verify.rls-ledger',
    group: 'verify',
    title: "Row level security on drizzle's ledger",
    did:
      'Enabled row level security on drizzle.__drizzle_migrations with no policy for the ' +
      'read-only role: it saw an empty ledger, and verify called every migration pending.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.row_security',
    message:
      'row level security hides rows of drizzle.__drizzle_migrations from role {user} (no BYPASSRLS, ' +
      'no policy that lets it read every row), so drizzle.__drizzle_migrations was not checked',
    hint: BYPASS_HINT,
    exit: 4,
    changed: 'nothing',
    test: 'failures-verify-rls.test.ts',
  },
  {
    id: 'verify.column-renamed',
    group: 'verify',
    title: 'A column renamed by hand',
    did:
      'Renamed users.email to mail on a v2.3 database. verify used to say "ADD COLUMN email": ' +
      'pasted, the app would find an empty column while its data sits in mail.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'schema.column_renamed',
    message:
      'column users.email is missing: column mail, of the same type at its position, holds its data under another name',
    hint: `${BY_HAND}ALTER TABLE "public"."users" RENAME COLUMN "mail" TO "email";`,
    exit: 4,
    changed: 'nothing; the hint, pasted, makes verify pass again with every row as it was',
    test: 'failures-verify-hints.test.ts',
    note:
      "Recognised when the extra column has the missing one's type and position; " +
      'otherwise the column is reported missing and the other one extra, as before.',
  },
  {
    id: 'verify.table-moved',
    group: 'verify',
    title: 'A table moved to another schema',
    did:
      'Ran `ALTER TABLE configurations SET SCHEMA app` on a v2.3 database. ' +
      'verify used to say "restore it from a backup".',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'schema.table_moved',
    message: 'table configurations is missing from schema public: it is in schema app ({columns} columns), moved there',
    hint: `${BY_HAND}ALTER TABLE "app"."configurations" SET SCHEMA "public";`,
    exit: 4,
    changed: 'nothing; the hint, pasted, makes verify pass again with every row as it was',
    test: 'failures-verify-hints.test.ts',
  },
  {
    id: 'verify.triggers-disabled',
    group: 'verify',
    title: '`DISABLE TRIGGER ALL`: foreign keys no longer enforced',
    did:
      'Ran `ALTER TABLE users DISABLE TRIGGER ALL` (a bulk load left it so). ' +
      'Its foreign keys stopped being checked; verify used to pass.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'schema.trigger_disabled',
    message:
      "table users has its foreign keys' triggers disabled (DISABLE TRIGGER ALL?): {constraints} are not enforced",
    hint: `${BY_HAND}ALTER TABLE "public"."users" ENABLE TRIGGER ALL;`,
    exit: 4,
    changed: 'nothing; the hint, pasted, makes verify pass again',
    test: 'failures-verify-behaviour.test.ts',
  },
  {
    id: 'verify.collation',
    group: 'verify',
    title: 'A column collation changed by hand',
    did:
      'Ran `ALTER TABLE users ALTER COLUMN email TYPE … COLLATE "C"`: sorting, ' +
      'comparisons and the unique index on lower(email) change; verify used to pass.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'schema.column_collation',
    message:
      'column users.email has collation "C", expected its type\'s ' +
      'default (comparisons, sorting and unique indexes change)',
    hint: `${BY_HAND}ALTER TABLE "public"."users" ALTER COLUMN "email" TYPE {type} COLLATE "default";`,
    exit: 4,
    changed: 'nothing; the hint, pasted, makes verify pass again',
    test: 'failures-verify-behaviour.test.ts',
  },
  {
    id: 'verify.extra-trigger',
    group: 'verify',
    title: 'A trigger added by hand',
    did: 'Created an audit trigger on organizations. verify did not see it.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    severity: 'warning',
    code: 'schema.extra_trigger',
    message: 'trigger audit_orgs on table organizations is not in the snapshot: added by hand?',
    hint: 'nothing to do if it was added on purpose: upkit keeps objects it does not know and never drops them',
    exit: 0,
    changed: 'nothing',
    test: 'failures-verify-behaviour.test.ts',
    note:
      'A materialized view the snapshot does not have is a warning too ' +
      '(`schema.extra_matview`); the test checks it in the same run.',
  },
  {
    id: 'verify.ledger-shared',
    group: 'verify',
    title: "Another application's rows in drizzle's ledger",
    did:
      'A second application migrates with drizzle into the same drizzle.__drizzle_migrations; ' +
      "its rows (hashes no file here has, created before this journal's last entry) " +
      'were called "the database is ahead of this upkit" (error, exit 4).',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    severity: 'warning',
    code: 'ledger.foreign_entry',
    message:
      'drizzle.__drizzle_migrations row {id} (hash 0123456789ab…, created_at 1600000000000 = ' +
      '2020-09-13T12:26:40.000Z) matches no migration of this drizzle folder and is not later than its last entry: ' +
      "another application's migration sharing this ledger, or a file removed from this folder",
    hint:
      'nothing to do if another application shares the ledger; give each application its own ' +
      "(drizzle's migrationsSchema/migrationsTable) so that neither one's rows hide the other's",
    exit: 0,
    changed: 'nothing',
    test: 'failures-verify-ledger.test.ts',
    note:
      "A row created after the journal's last entry is still a later migration: " +
      '"the database is ahead of this upkit" (`ledger.unknown_entry`, error).',
  },
  {
    id: 'verify.locked',
    group: 'verify',
    title: 'A lock that blocks verify: the area it keeps from being read',
    did:
      'Another session holds `LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE` in an open transaction. ' +
      'verify used to end after 5 s with exit 3 and a hint about privileges, and then with the whole report lost.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.locked',
    message:
      'seed data not read: verification waited 5 s for a lock on organizations held by server process ' +
      '{pid} (user {user}, application "pulse-api report", for {seconds} s, last query: ' +
      'lock table organizations in access exclusive mode); the report is incomplete and nothing was changed',
    hint:
      'wait for that transaction to end (SELECT pg_terminate_backend({pid}); ' +
      'ends it and rolls its changes back), then run: npx zx verify/index.ts',
    exit: 5,
    changed: 'nothing; the session holding the lock goes on',
    test: 'failures-verify-locked.test.ts',
    note:
      'Each area reads under a savepoint: the schema and the ledgers are read and reported as usual ' +
      "(the report's findings, `--json` too), the seed data area is shown `not read (locked)` and " +
      'the summary line says the report is incomplete. A lock on an index of a table verify reads ' +
      '(`REINDEX INDEX` in an open transaction) blocks it the same way and is named the same way.',
  },
  {
    id: 'verify.locked-partial',
    group: 'verify',
    title: "A lock on drizzle's ledger: the rest of the report still read",
    did:
      'Another session holds `LOCK TABLE drizzle.__drizzle_migrations IN ACCESS EXCLUSIVE MODE` ' +
      "(a migration tool's transaction) on a v2.3 database that also has a column added by hand.",
    entry: 'verify/index.ts',
    args: ['--env-file', '{envFile}'],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.locked',
    message:
      'ledgers not read: verification waited 5 s for a lock on drizzle.__drizzle_migrations held by server ' +
      'process {pid} (user {user}, application "migrator", for {seconds} s, last query: ' +
      'lock table drizzle.__drizzle_migrations in access exclusive mode); ' +
      'the report is incomplete and nothing was changed',
    hint:
      'wait for that transaction to end (SELECT pg_terminate_backend({pid}); ' +
      'ends it and rolls its changes back), then run: npx zx verify/index.ts --env-file {envFileQuoted}',
    exit: 5,
    changed: 'nothing',
    test: 'failures-verify-locked.test.ts',
    note:
      "The schema's warning (`schema.extra_column`) and the seed data's counts are in the same report; " +
      'with an error among them (a column dropped by hand) the exit code is 4, ' +
      "the error first as DESIGN's order has it (4 before 5), the ledgers still named as not read. " +
      'The hint repeats --env-file and --drizzle-dir as given, quoted for the shell.',
  },
  {
    id: 'verify.locked-queued',
    group: 'verify',
    title: 'verify queued behind an ALTER TABLE that waits',
    did:
      'One session reads organizations in an open transaction; a second runs `ALTER TABLE ' +
      'organizations …` and waits for it; verify queues behind the ALTER. No session holds an ' +
      'exclusive lock, so the holder used to be unnamed (exit 3, a hint about privileges).',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.locked',
    message:
      'seed data not read: verification waited 5 s for a lock on organizations held by server ' +
      'process {reader} (user {user}, application "report", for {seconds} s, last query: select count(*) ' +
      'from organizations), with server process {alter} (user {user}, application "migrator", ' +
      'for {seconds} s, last query: alter table organizations add column note text) ' +
      'queued for an exclusive lock on it ahead of verify; the report is incomplete and nothing was changed',
    hint:
      'wait for those transactions to end (SELECT pg_terminate_backend({reader}); ' +
      'SELECT pg_terminate_backend({alter}); ends them and rolls their changes back), then run: npx zx verify/index.ts',
    exit: 5,
    changed: 'nothing; both sessions go on',
    test: 'failures-verify-locked.test.ts',
  },
  {
    id: 'verify.locked-schema',
    group: 'verify',
    title: 'A lock on a table whose definition verify deparses',
    did:
      'Another session holds `LOCK TABLE roles IN ACCESS EXCLUSIVE MODE`. ' +
      "The catalog read deparses roles' index expressions (pg_get_indexdef), which locks the table, " +
      'so even the schema could not be read: the whole report used to be lost.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.locked',
    message:
      'schema not read for table public.roles: verification waited 5 s for a lock on roles held by ' +
      'server process {pid} (user {user}, application "admin console", for {seconds} s, last query: ' +
      'lock table roles in access exclusive mode); the report is incomplete and nothing was changed',
    hint:
      'wait for that transaction to end (SELECT pg_terminate_backend({pid}); ' +
      'ends it and rolls its changes back), then run: npx zx verify/index.ts',
    exit: 5,
    changed: 'nothing',
    test: 'failures-verify-locked.test.ts',
    note:
      'The catalog is read again without the locked tables (their columns, indexes and constraints): ' +
      'every other table is compared as usual, the locked ones are neither compared ' +
      'nor called missing. roles is a seed table, so seed data is named as not read too (with ' +
      "no second wait), and the release (detected from the catalog's tables) is not claimed.",
  },
];
