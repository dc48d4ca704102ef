// Hardening cases (issue 12): see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

const PREFLIGHT_NEXT = 'then run: npx zx scripts/preflight.ts';
const ONLY_PUBLIC =
  "upkit works in schema public only (Pulse's migrations name it): leave search_path out, or set it to public";
const DRY_RUN_NEXT = 'then run: npx zx upgrade.ts --dry-run';
const SPLIT_TABLES = [
  'aws_integrations',
  'configurations',
  'discovery_code_generations',
  'discovery_resources',
  'discovery_sessions',
  'organizations',
  'permissions',
  'role_permissions',
  'roles',
  'user_roles',
  'users',
];

export const schemaCases: FailureCase[] = [
  {
    id: 'schema.url-options',
    group: 'schema',
    title: '`DATABASE_URL` whose libpq `options` set another schema',
    did:
      'Pulse v1.0 lives in schema `app`; the URL says so with `?options=-c search_path=app` (the ' +
      'test also writes `-csearch_path=app`, `--search_path=app`, `--search-path=app` and `?schema=app`). ' +
      'upkit used to ignore it, planned "empty → v2.3" and installed a second Pulse in `public`.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}?options=-c%20search_path%3Dapp' },
    code: 'config.invalid',
    message:
      'DATABASE_URL: sets search_path to schema app, but upkit installs and upgrades Pulse in schema public only',
    hint:
      `${ONLY_PUBLIC}; an install in schema app must be moved to public first (ALTER ` +
      `SCHEMA "app" RENAME TO public, once public is renamed away), ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed:
      'nothing: the v1.0 install in `app` keeps its schema and rows, ' +
      '`public` stays empty, no upkit or drizzle schema is created',
    test: 'failures-schema.test.ts',
  },
  {
    id: 'schema.db-schema',
    group: 'schema',
    title: '`DB_SCHEMA` names another schema',
    did: 'Set `DB_SCHEMA=app` beside a plain `DATABASE_URL`.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', DB_SCHEMA: 'app' },
    code: 'config.invalid',
    message: 'DB_SCHEMA: names schema app, but upkit installs and upgrades Pulse in schema public only',
    hint:
      `${ONLY_PUBLIC}; an install in schema app must be moved to public first (ALTER ` +
      `SCHEMA "app" RENAME TO public, once public is renamed away), ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-schema.test.ts',
  },
  {
    id: 'schema.search-path-list',
    group: 'schema',
    title: 'A search_path of several schemas in the URL',
    did: 'Wrote `?options=-c search_path=app,public`: which schema would Pulse be created in?',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}?options=-c%20search_path%3Dapp%2Cpublic' },
    code: 'config.invalid',
    message: 'DATABASE_URL: sets search_path to app, public; upkit works in one schema, named alone',
    hint: `${ONLY_PUBLIC}, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-schema.test.ts',
  },
  {
    id: 'schema.elsewhere',
    group: 'schema',
    title: 'Pulse installed in another schema, `public` empty',
    did:
      'Pulse v1.0 lives in schema `app` (the app sets its own search_path); ' +
      '`DATABASE_URL` names no schema. The dry run used to plan "empty → v2.3".',
    entry: 'upgrade.ts',
    args: ['--dry-run'],
    env: { DATABASE_URL: '{url}' },
    code: 'schema.elsewhere',
    message: 'found Pulse v1.0 in schema app, but upkit is set for schema public, where there is none',
    hint:
      `upkit installs and upgrades Pulse in schema public only: move the install ` +
      `there (ALTER SCHEMA "public" RENAME TO "public_unused"; ALTER SCHEMA "app" ` +
      `RENAME TO "public";) and point the app's search_path at public, ${DRY_RUN_NEXT}`,
    exit: 3,
    changed: 'nothing',
    test: 'failures-schema.test.ts',
  },
  {
    id: 'schema.elsewhere-database-default',
    group: 'schema',
    title: "Pulse in another schema that the database's search_path names",
    did:
      'Pulse v1.0 lives in schema `app` and the database says `ALTER DATABASE … SET search_path = app`. ' +
      'upkit used to plan a fresh install and run it into `app`, on top of the install.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'schema.elsewhere',
    message: 'found Pulse v1.0 in schema app, but upkit is set for schema public, where there is none',
    hint:
      `upkit installs and upgrades Pulse in schema public only: move the install ` +
      `there (ALTER SCHEMA "public" RENAME TO "public_unused"; ALTER SCHEMA "app" ` +
      `RENAME TO "public";) and point the app's search_path at public, ${DRY_RUN_NEXT}`,
    exit: 3,
    changed: 'nothing: no backup, no upkit or drizzle schema, the install in `app` untouched',
    test: 'failures-schema.test.ts',
    note:
      'Every session upkit opens pins search_path to public, ' +
      'so the database default no longer decides where anything is created.',
  },
  {
    id: 'schema.elsewhere-install',
    group: 'schema',
    title: 'A fresh install on a database whose Pulse lives in another schema',
    did:
      'Ran `install.ts` on a database that holds Pulse v1.0 in schema `app`: ' +
      'public is empty, and install used to create a second Pulse there.',
    entry: 'install.ts',
    args: ['--yes', '--no-containers'],
    env: { DATABASE_URL: '{url}' },
    code: 'schema.elsewhere',
    message: 'found Pulse v1.0 in schema app, but upkit is set for schema public, where there is none',
    hint:
      `upkit installs and upgrades Pulse in schema public only: move the install ` +
      `there (ALTER SCHEMA "public" RENAME TO "public_unused"; ALTER SCHEMA "app" ` +
      `RENAME TO "public";) and point the app's search_path at public, ${DRY_RUN_NEXT}`,
    exit: 3,
    changed: 'nothing in the database (install writes its `.env` first, as always)',
    test: 'failures-schema.test.ts',
  },
  {
    id: 'schema.elsewhere-preflight',
    group: 'schema',
    title: 'Preflight on a database whose Pulse lives in another schema',
    did: 'Ran preflight before the upgrade; Pulse v1.0 is in schema `app`. Preflight used to pass.',
    entry: 'scripts/preflight.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    step: 'schema',
    code: 'schema.elsewhere',
    message: 'found Pulse v1.0 in schema app, but upkit is set for schema public, where there is none',
    hint:
      `upkit installs and upgrades Pulse in schema public only: move the install ` +
      `there (ALTER SCHEMA "public" RENAME TO "public_unused"; ALTER SCHEMA "app" ` +
      `RENAME TO "public";) and point the app's search_path at public, ${DRY_RUN_NEXT}`,
    exit: 3,
    changed: 'nothing (preflight only reads)',
    test: 'failures-schema.test.ts',
  },
  {
    id: 'schema.split',
    group: 'schema',
    title: 'Pulse tables in the schema named like the role',
    did:
      'Connected as role `{role}`, which owns a schema `{role}`: with the default search_path `"$user", ' +
      'public`, legacy files once created Pulse tables there (holding only their seed rows), ' +
      'beside the v1.0 install in `public`. The app, connecting as `{role}`, reads those.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{roleUrl}' },
    code: 'schema.split',
    message:
      `Pulse is split across schemas: {role} holds ${SPLIT_TABLES.length} of its tables (with rows) ` +
      `besides the install in public; schema {role} is named like the role {role}, ` +
      `which the default search_path "$user", public finds first, so the app would use those tables`,
    hint:
      `move the rows you need into public's tables, then remove them: ` +
      `DROP TABLE ${SPLIT_TABLES.map((t) => `"{role}"."${t}"`).join(', ')}; ${DRY_RUN_NEXT}`,
    exit: 3,
    changed: 'nothing',
    test: 'failures-schema.test.ts',
    note:
      'Stray tables without a row get "all empty" and a hint to drop them. Only schemas ' +
      'that a session finds before public without pinning (named like the role, ' +
      "or named in the role's or database's search_path) count: a renamed copy elsewhere is no split.",
  },
  {
    id: 'schema.socket-missing',
    group: 'schema',
    title: 'A Unix-socket directory with no server in it',
    did:
      'Wrote the libpq socket form `?host=/run/pg-missing` (a directory where no ' +
      'PostgreSQL listens). Socket directories used to be refused as "names no host".',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://{user}:{password}@/{database}?host={socketDir}&port={port}' },
    code: 'db.unreachable',
    message: 'cannot connect to PostgreSQL at {socketDir}/.s.PGSQL.{port}: no such socket',
    hint:
      "is the server running with unix_socket_directories = '{socketDir}' and " +
      'port {port}? check DATABASE_URL, then run: npx zx scripts/preflight.ts',
    exit: 3,
    changed: 'nothing (no database was reached)',
    test: 'failures-schema.test.ts',
  },
  {
    id: 'config.env-duplicate',
    group: 'configuration',
    title: 'A key set twice in `.env`',
    did:
      'Added a new `DB_PASSWORD` line below the old one instead of editing it. ' +
      'dotenv takes the last; the operator may have meant the first.',
    entry: 'scripts/status.ts',
    args: [],
    dotenv:
      'DB_HOST={host}\nDB_PORT={port}\nDB_USER={user}\n' +
      'DB_PASSWORD=old-password\nDB_NAME={database}\nDB_PASSWORD={password}\n',
    severity: 'warning',
    code: 'config.env-duplicate',
    message: 'DB_PASSWORD is set twice in .env (lines 4 and 6); line 6 wins',
    hint: 'remove the line you do not mean from {cwd}/.env',
    exit: 0,
    changed: 'nothing (status only reads)',
    test: 'failures-schema.test.ts',
  },
  {
    id: 'config.env-escape',
    group: 'configuration',
    title: '`\\n` in a double-quoted password in `.env`',
    did:
      'Wrote `DB_PASSWORD="ab\\ncd"`. In double quotes dotenv (and so Pulse itself) ' +
      'reads `\\n` as a line break; upkit reads the file the same way, and says so.',
    entry: 'scripts/status.ts',
    args: [],
    dotenv: 'DB_HOST={host}\nDB_PORT={port}\nDB_USER={role}\nDB_PASSWORD="ab\\ncd"\nDB_NAME={database}\n',
    severity: 'warning',
    code: 'config.env-escape',
    message: 'DB_PASSWORD (.env line 4): \\n or \\r inside double quotes is read as a line break (as dotenv reads it)',
    hint: 'to keep the backslash, put the value in single quotes in {cwd}/.env (line 4)',
    exit: 0,
    changed: 'nothing (status only reads)',
    test: 'failures-schema.test.ts',
    note:
      "The test's role has the password `ab`, a line break, `cd`: " +
      'status connects with it, which shows the rule is the one applied.',
  },
];
