// Hardening cases found by review: an app whose search_path lists several schemas, tables
// whose rows row level security hides, an app working in its own schema, an app folder without
// its last snapshot. See test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const reviewCases: FailureCase[] = [
  {
    id: 'lint.search-path-later-schema',
    group: 'migrations',
    title: 'A migration drops an unqualified table that a later schema of the search_path holds (an app)',
    did:
      'Upgraded an app whose URL pins `search_path=app,public`; schema `app` exists but has no `audit_log`, ' +
      '`public.audit_log` holds rows, and the pending migration runs `DROP TABLE audit_log;`.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.destructive',
    message: '1 destructive statement pending: 0001_drop_audit.sql:1 drops table audit_log and its data',
    hint:
      'review them; if they are intended, run again with ' +
      '--allow-destructive=0001_drop_audit (a backup is taken first); nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      'Unqualified names resolve as PostgreSQL resolves them: the first schema of the ' +
      'search_path that holds the name (live, or made earlier in the run), and new objects go ' +
      'to the first schema of it that exists. Before, every unqualified name was taken to ' +
      'be in the first schema only, so the drop of public.audit_log passed with no finding.',
    test: 'failures-review.test.ts',
  },
  {
    id: 'lint.rows-hidden-by-rls',
    group: 'migrations',
    title: "A migration drops a table whose rows row level security hides from upkit's role (an app)",
    did:
      'Upgraded an app, as the role that owns its tables, whose `notes` table has `FORCE ROW LEVEL ' +
      "SECURITY` and a tenant policy (`tenant_id = current_setting('app.tenant', true)::int`): " +
      "every row is hidden from upkit's session; the pending migration runs `DROP TABLE notes;`.",
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.destructive',
    message: '1 destructive statement pending: 0001_drop_notes.sql:1 drops table notes and its data',
    hint:
      'review them; if they are intended, run again with ' +
      '--allow-destructive=0001_drop_notes (a backup is taken first); nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      'A table where row level security is active for the session (`row_security_active`) ' +
      'is taken to hold rows, as one the role may not read is. Before, its policies filtered ' +
      "the plan's row probe, the table read as empty, and the drop passed with no finding.",
    test: 'failures-review.test.ts',
  },
  {
    id: 'install.app-schema-not-fresh',
    group: 'install',
    title: 'Install of an app into a database whose app schema already holds tables',
    did:
      'Ran `install.ts --drizzle-dir` for an app working in schema `app` (`DB_SCHEMA=app`, ' +
      'its search_path) on a database where `app.things` already holds rows, ' +
      "with no ledger of upkit's or drizzle's; schema `public` is empty.",
    entry: 'install.ts',
    args: ['--yes', '--no-containers', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', DB_SCHEMA: 'app' },
    code: 'install.exists',
    message:
      '{database} already holds 1 table that is not an install upkit made; install never changes an existing database',
    hint:
      'install into an empty or missing database (set DB_NAME ' +
      'or DATABASE_URL), or upgrade it with npx zx upgrade.ts',
    exit: 3,
    changed: 'nothing',
    note:
      "A fresh install, and an empty database (no backup taken before an install's migrations), " +
      "are judged over the schemas of the sessions' search_path that exist (`public` for Pulse), " +
      "not upkit's or drizzle's; other schemas of a shared database (a hosted PostgreSQL's auth or storage schema) " +
      'do not count. Before, only `public` was looked at: this install went ahead as a fresh one.',
    test: 'failures-review.test.ts',
  },
  {
    id: 'schema.pulse-folder-symlink',
    group: 'schema',
    title: "`DB_SCHEMA` names another schema, with Pulse's drizzle folder given through a symlink",
    did:
      "Set `UPKIT_DRIZZLE_DIR` to a symlink to Pulse's own drizzle " +
      "folder (a release's `current` link) and `DB_SCHEMA=app`.",
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', DB_SCHEMA: 'app', UPKIT_DRIZZLE_DIR: '{dir}' },
    code: 'config.invalid',
    message: 'DB_SCHEMA: names schema app, but upkit installs and upgrades Pulse in schema public only',
    hint:
      "upkit works in schema public only (Pulse's migrations name it): leave search_path out, " +
      'or set it to public; an install in schema app must be moved to public first (ALTER SCHEMA ' +
      '"app" RENAME TO public, once public is renamed away), then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing (no database was reached)',
    note:
      'The configuration decides "Pulse or another app" as the profile does, on real paths. Before, ' +
      'it compared the paths as given: the profile was Pulse (its legacy era, seed data and probes) ' +
      "while the configuration took the folder for another app's, " +
      "made `app` the sessions' search_path and skipped Pulse's schema refusals.",
    test: 'failures-review.test.ts',
  },
];
