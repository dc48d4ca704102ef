// Hardening cases (issue 12): see test/failures/catalogue.ts for what a case is. What can be
// known before the first write is checked before it: each is refused with exit 3 and nothing
// changed, in the dry run as in the real one.
import type { FailureCase } from '../types.ts';

export const refusalsCases: FailureCase[] = [
  {
    id: 'conc.lock-timeout-legacy',
    group: 'concurrency',
    title: 'A table lock held while comprehensive-upgrade.sql waits for it',
    did:
      'Upgraded a v1.0 install while a report held a transaction ' +
      'open on users, which comprehensive-upgrade.sql alters.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', LOCK_TIMEOUT: '150', LOCK_RETRIES: '1' },
    code: 'lock.timeout',
    message:
      'comprehensive-upgrade.sql: could not get its locks within 150 ms after 2 attempts; pid {pid} (pulse-api ' +
      'report) holds AccessShareLock on users for {seconds} s, idle in transaction: select count(*) from users',
    hint:
      'wait for that work to end, or stop it with: SELECT pg_cancel_backend({pid}); ' +
      '(pg_terminate_backend to end the session), then run the upgrade again',
    exit: 3,
    changed:
      "nothing in Pulse's schema, data or ledgers: a busy lock is no reason to apply the legacy " +
      'files one by one instead; upkit.runs records the run as refused, and the backup it took is kept',
    note:
      'a lock timeout, a statement timeout, a lost connection, a serialization failure or a full disk never ' +
      'makes upkit fall back to the files one by one: they would meet the same after applying some releases.',
    test: 'failures-refusals.test.ts',
  },

  {
    id: 'data.view-on-retyped-column',
    group: 'data',
    title: 'A hand-made view on a column a pending migration retypes',
    did:
      'Upgraded a v2.1 install where someone had created a view over ' +
      'aws_integrations.status, whose type 0003 changes to an enum.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.dependent_objects',
    message:
      '0003_integration_status_enum.sql:23 changes the type of public.aws_integrations.status, ' +
      'which view public.active_integrations depends on: PostgreSQL refuses that while it exists',
    hint:
      `keep the definition of the view (SELECT pg_get_viewdef('"public"."active_integrations"'::regclass, ` +
      `true);), drop it (DROP VIEW "public"."active_integrations";), ` +
      `run the upgrade again, then create it anew; nothing was changed`,
    exit: 3,
    changed: 'nothing (not even upkit.runs: the plan finds it, read-only, before anything is recorded)',
    note:
      'found from pg_depend and pg_rewrite for every column a pending statement retypes or drops ' +
      'and every table it drops: views, materialized views, rules, policies and triggers (and, ' +
      'for a table, foreign keys of other tables). Before, 0002 was applied and 0003 failed: exit 1.',
    test: 'failures-refusals-objects.test.ts',
  },
  {
    id: 'data.view-on-retyped-column-dry-run',
    group: 'data',
    title: 'The same view, seen by the dry run',
    did: 'Ran `--dry-run` on that v2.1 install first, as the README advises.',
    entry: 'upgrade.ts',
    args: ['--dry-run'],
    env: { DATABASE_URL: '{url}' },
    code: 'check.dependent_objects',
    message:
      '0003_integration_status_enum.sql:23 changes the type of public.aws_integrations.status, ' +
      'which view public.active_integrations depends on: PostgreSQL refuses that while it exists',
    hint:
      `keep the definition of the view (SELECT pg_get_viewdef('"public"."active_integrations"'::regclass, ` +
      `true);), drop it (DROP VIEW "public"."active_integrations";), ` +
      `run the upgrade again, then create it anew; nothing was changed`,
    exit: 3,
    changed: 'nothing',
    note:
      'the dry run refuses what the real run would refuse, ' +
      'with the same line (before, it printed the plan and exit 0).',
    test: 'failures-refusals-objects.test.ts',
  },
  {
    id: 'data.not-null-dropped',
    group: 'data',
    title: 'A NOT NULL constraint dropped by hand, with NULLs in that column',
    did:
      'Upgraded a v1.2 install where someone had run `ALTER TABLE ' +
      'users ALTER COLUMN role DROP NOT NULL` and two users had no role.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.table_shape',
    message:
      'public.users differs from what comprehensive-upgrade.sql:22 creates, ' +
      'and CREATE TABLE IF NOT EXISTS leaves it as it is: role is nullable (2 rows hold NULL)',
    hint:
      'give the NULLs a value (UPDATE "public"."users" SET "role" = <value> WHERE ' +
      '"role" IS NULL;), then restore the constraint: ALTER TABLE "public"."users" ALTER ' +
      'COLUMN "role" SET NOT NULL; then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'every column a pending CREATE TABLE IF NOT EXISTS declares is compared with the live table (present, ' +
      'NOT NULL, type), unless a later pending statement adds, retypes or sets it NOT NULL. ' +
      'Before, the legacy files ran and the baseline of 0000 then failed on the nullable column: exit 1.',
    test: 'failures-refusals-objects.test.ts',
  },
  {
    id: 'data.not-null-dropped-drizzle',
    group: 'data',
    title: 'A NOT NULL dropped by hand on a table a pending migration relies on',
    did:
      'Upgraded a v2.1 install where someone had dropped NOT NULL on ' +
      'aws_integrations.organization_id and one integration, in an unknown status, had none; ' +
      '0003 records such rows in audit_logs, whose organization_id is NOT NULL.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.not_null_dropped',
    message:
      "public.aws_integrations.organization_id allows NULL and 1 row holds it, but 0001_api_keys's schema has " +
      'it NOT NULL (changed by hand), and 0003_integration_status_enum.sql:7 relies on public.aws_integrations',
    hint:
      'give them a value (UPDATE "public"."aws_integrations" SET "organization_id" = <value> WHERE ' +
      '"organization_id" IS NULL;) or delete them, then restore the constraint: ' +
      'ALTER TABLE "public"."aws_integrations" ALTER COLUMN "organization_id" ' +
      'SET NOT NULL; then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'every table a pending migration uses (as a relation, or named inside a DO block or function body) ' +
      "is compared with the newest applied entry's snapshot: a NOT NULL column that now allows NULL and holds " +
      'some is refused. Before, 0002 was applied and 0003 failed on the NOT NULL of audit_logs: exit 1.',
    test: 'failures-refusals-objects.test.ts',
  },
  {
    id: 'data.half-applied-release',
    group: 'data',
    title: 'A table an interrupted script left in an older shape',
    did:
      'Upgraded a v1.3 install where an early draft of discovery-migration.sql, ' +
      'stopped half-way, had created an empty discovery_sessions with four columns.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.table_shape',
    message:
      'public.discovery_sessions differs from what comprehensive-upgrade.sql:224 creates, and CREATE TABLE IF ' +
      'NOT EXISTS leaves it as it is: no column integration_id, description, provider, regions, status and 4 more',
    hint:
      'it holds no rows (an earlier run of other SQL that did not finish likely made it): drop it (DROP TABLE ' +
      '"public"."discovery_sessions";) and the upgrade creates it whole, ' +
      'then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'before, comprehensive-upgrade.sql failed on an index over a missing column, ' +
      'the files one by one applied v1.0 to v1.3 again and discovery-migration.sql failed: exit 1.',
    test: 'failures-refusals-objects.test.ts',
  },
  {
    id: 'data.nulls-before-set-not-null',
    group: 'data',
    title: 'NULLs in a column a pending migration makes NOT NULL',
    did:
      'Ran an app release whose 0004 makes users.name NOT NULL, ' +
      'with `--allow-destructive`, while three users have no name.',
    entry: 'upgrade.ts',
    args: ['--yes', '--allow-destructive', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.nulls',
    message: '0004_name_required.sql:1 makes public.users.name NOT NULL, but 3 rows hold NULL there',
    hint:
      'give them a value (UPDATE "public"."users" SET "name" = <value> WHERE "name" IS NULL;) ' +
      'or delete them, then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'an UPDATE of that column earlier in the pending statements counts ' +
      'as filling it. Before, 0003 was applied and 0004 failed: exit 1.',
    test: 'failures-refusals-objects.test.ts',
  },
  {
    id: 'data.duplicates-unique-index',
    group: 'data',
    title: 'Duplicates a pending unique index rejects',
    did:
      'Ran an app release whose 0004 makes configuration names unique per organization ' +
      'regardless of case, where two organizations each have two configurations named alike.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.duplicates',
    message:
      '0004_unique_names.sql:1 creates unique index configurations_org_name_idx on ' +
      'public.configurations (organization_id, lower(name)), but 2 values occur in more than one row: ' +
      '{first}, service-a.yaml (2 rows); {second}, service-b.yaml (2 rows)',
    hint:
      'decide which row keeps each value, change or delete the others, ' +
      'then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'new unique indexes (on columns or a function of one), unique constraints and primary ' +
      'keys are checked for duplicates, and validated foreign keys for rows pointing at ' +
      'nothing (the hint then holds the SELECT that lists them), unless an earlier pending ' +
      'statement writes those tables. Before, 0003 was applied and 0004 failed: exit 1.',
    test: 'failures-refusals-objects.test.ts',
  },
  {
    id: 'mig.extension-missing',
    group: 'migrations',
    title: 'A pending migration creates an extension the server does not offer',
    did:
      'Ran an app release whose 0004 creates the `vector` extension ' +
      'on a server without pgvector, with 0003 pending before it.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.extension_missing',
    message:
      '0004_embeddings.sql:1 creates extension "vector", which this PostgreSQL ' +
      '{major} server does not offer (it is not in pg_available_extensions)',
    hint:
      'install postgresql-{major}-pgvector on the database server (its files come with ' +
      'that package, not with SQL), then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'well-known extensions are named with their package (pgvector, PostGIS, TimescaleDB, ' +
      'pg_cron, the contrib modules, …). Before, 0003 was applied and 0004 failed: exit 1.',
    test: 'failures-refusals.test.ts',
  },
  {
    id: 'mig.extension-unknown-preflight',
    group: 'migrations',
    title: 'An extension nobody packages, seen by preflight',
    did:
      'Ran preflight for an app release whose 0004 creates an ' +
      'extension of its own that was never installed on the server.',
    entry: 'scripts/preflight.ts',
    args: ['--no-backup', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'check.extension_missing',
    step: 'pending changes',
    message:
      '0004_fuzzy.sql:1 creates extension "pulse_fuzzy", which this PostgreSQL ' +
      '{major} server does not offer (it is not in pg_available_extensions)',
    hint:
      'install the package that provides extension "pulse_fuzzy" on the ' +
      'database server, then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      'preflight makes the plan the upgrade would make (read-only) and runs the same checks; ' +
      'a destructive statement is left to the upgrade and --allow-destructive.',
    test: 'failures-refusals.test.ts',
  },
  {
    id: 'server.read-only-default',
    group: 'server',
    title: 'Transactions that start read-only (ALTER DATABASE … SET default_transaction_read_only)',
    did: 'Upgraded a v2.2 install whose database an administrator had set to start every transaction read-only.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.read_only',
    message:
      'role "{user}" starts every transaction read-only (default_transaction_read_only is on, ' +
      'set by ALTER DATABASE "{database}"), so no change could be written',
    hint:
      'as an administrator: ALTER DATABASE "{database}" RESET default_transaction_read_only; ' +
      'then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'the hint follows where the setting comes from: ALTER ROLE, ALTER ROLE … IN DATABASE, ALTER DATABASE, ' +
      "the connection's options or postgresql.conf. A standby in recovery is refused the same way, " +
      'pointing at the primary. Before, preflight passed and the upgrade failed on its first write: exit 1.',
    test: 'failures-refusals.test.ts',
  },
  {
    id: 'server.read-only-default-preflight',
    group: 'server',
    title: 'Transactions that start read-only, seen by preflight',
    did:
      'Ran preflight where the role starts every transaction ' +
      'read-only (ALTER ROLE … SET default_transaction_read_only = on).',
    entry: 'scripts/preflight.ts',
    args: ['--no-backup'],
    env: { DATABASE_URL: 'postgres://{user}:{password}@{host}:{port}/{database}' },
    code: 'check.read_only',
    step: 'privileges',
    message:
      'role "{user}" starts every transaction read-only (default_transaction_read_only is on, ' +
      'set by ALTER ROLE "{user}"), so no change could be written',
    hint:
      'as an administrator: ALTER ROLE "{user}" RESET default_transaction_read_only; ' +
      'then run: npx zx scripts/preflight.ts; nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-refusals.test.ts',
  },
  {
    id: 'server.not-owner',
    group: 'server',
    title: "A table owned by a role upkit's role cannot act as",
    did:
      'Upgraded a v2.1 install as the role that owns the database, ' +
      'where aws_integrations (which 0003 alters) belongs to another role.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://{user}:{password}@{host}:{port}/{database}', BACKUP_DIR: '{backups}' },
    code: 'check.owner',
    message:
      'role "{user}" does not own table public.aws_integrations (owned by "{owner}"; ' +
      '0003_integration_status_enum.sql:21 alters it), and only its owner may do that',
    hint:
      'as an administrator: ALTER TABLE "public"."aws_integrations" OWNER TO "{user}"; (or let "{user}" ' +
      'act as the owner: GRANT "{owner}" TO "{user}";), then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'every relation a pending statement alters, drops, indexes or puts a trigger or policy on ' +
      'must be owned by the role or a role it inherits; every table it writes needs the privilege (a ' +
      'GRANT in the hint). Before, 0002 was applied and 0003 failed with "must be owner": exit 1.',
    test: 'failures-refusals.test.ts',
  },
  {
    id: 'server.ledger-access',
    group: 'server',
    title: "A role that cannot read upkit's ledgers",
    did:
      'Upgraded as the role that owns the database, ' +
      "where drizzle's ledger schema was made by another role and never granted.",
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup'],
    env: { DATABASE_URL: 'postgres://{user}:{password}@{host}:{port}/{database}' },
    code: 'preflight.ledger_access',
    message: `role "{user}" cannot use upkit's ledgers: it lacks USAGE on schema drizzle`,
    hint:
      'run as an administrator: GRANT USAGE ON SCHEMA "drizzle" TO "{user}"; GRANT SELECT, INSERT, ' +
      'UPDATE, DELETE ON ALL TABLES IN SCHEMA "drizzle" TO "{user}"; GRANT USAGE ON ALL SEQUENCES IN ' +
      'SCHEMA "drizzle" TO "{user}"; (or connect as the role that owns "drizzle"); nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'Read before the plan reads the ledgers. Before, the plan failed on "permission ' +
      'denied for schema drizzle": exit 1 from a run that had changed nothing.',
    test: 'failures-ledger-access.test.ts',
  },
  {
    id: 'server.ledger-access-preflight',
    group: 'server',
    title: "A role that cannot read upkit's ledgers, seen by preflight",
    did: 'Ran preflight as that role; the pasted GRANTs then let the privileges check pass.',
    entry: 'scripts/preflight.ts',
    args: ['--no-backup'],
    env: { DATABASE_URL: 'postgres://{user}:{password}@{host}:{port}/{database}' },
    code: 'preflight.ledger_access',
    step: 'privileges',
    message: `role "{user}" cannot use upkit's ledgers: it lacks USAGE on schema drizzle`,
    hint:
      'run as an administrator: GRANT USAGE ON SCHEMA "drizzle" TO "{user}"; GRANT SELECT, INSERT, ' +
      'UPDATE, DELETE ON ALL TABLES IN SCHEMA "drizzle" TO "{user}"; GRANT USAGE ON ALL SEQUENCES IN ' +
      'SCHEMA "drizzle" TO "{user}"; (or connect as the role that owns "drizzle"); nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      'The schema and pending-changes checks, which read the ledgers, are skipped with that reason. ' +
      'Before, preflight ended in "permission denied for schema drizzle", exit 1.',
    test: 'failures-ledger-access.test.ts',
  },
];
