// The bad-input catalogue: every case an operator can meet, with the exact line, hint and
// exit code. docs/FAILURES.md is generated from this list (test/failures/render.ts) and the
// failures-*.test.ts files read their expectations from it, so the page and the tests
// cannot disagree. Each case names the test file that runs it.
import { appfitCases } from './hardening/appfit.ts';
import { backupsCases } from './hardening/backups.ts';
import { backupspeedCases } from './hardening/backupspeed.ts';
import { demoCases } from './hardening/demo.ts';
import { installCases } from './hardening/install.ts';
import { launchCases } from './hardening/launch.ts';
import { lintCases } from './hardening/lint.ts';
import { logsCases } from './hardening/logs.ts';
import { nodeCases } from './hardening/node.ts';
import { outputCases } from './hardening/output.ts';
import { profilesCases } from './hardening/profiles.ts';
import { refusalsCases } from './hardening/refusals.ts';
import { repeatableCases } from './hardening/repeatable.ts';
import { restoreCases } from './hardening/restore.ts';
import { restoreSpeedCases } from './hardening/restorespeed.ts';
import { reviewCases } from './hardening/review.ts';
import { rollbackCases } from './hardening/rollback.ts';
import { schemaCases } from './hardening/schema.ts';
import { secretsCases } from './hardening/secrets.ts';
import { shadowCases } from './hardening/shadow.ts';
import { startupCases } from './hardening/startup.ts';
import { startupSpeedCases } from './hardening/startupspeed.ts';
import { statusesCases } from './hardening/statuses.ts';
import { targetsCases } from './hardening/targets.ts';
import type { FailureCase } from './types.ts';
import { verifyCases } from './hardening/verify.ts';

const PREFLIGHT_NEXT = 'then run: npx zx scripts/preflight.ts';
const URL_HINT =
  'expected postgres://USER:PASSWORD@HOST:5432/DATABASE; ' +
  'percent-encode @ : / % # and spaces in the password (or use DB_PASSWORD)';

const configuration: FailureCase[] = [
  {
    id: 'config.no-settings',
    group: 'configuration',
    title: 'Run outside the directory that holds `.env`',
    did:
      'Ran the upgrade from another directory: there is no `.env` there, ' +
      'and nothing in the environment names a database.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    code: 'config.invalid',
    message:
      'DATABASE_URL: is not set, and neither are DB_HOST, ' +
      'DB_USER and DB_NAME (in the environment; there is no .env in {cwd})',
    hint: "run upkit in the directory that holds Pulse's .env, or pass --dotenv PATH, or set DATABASE_URL",
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-config.test.ts',
  },
  {
    id: 'config.env-line',
    group: 'configuration',
    title: '`.env` line that is not KEY=VALUE',
    did: 'Pasted a note into `.env`; dotenv would silently ignore the line.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    dotenv: 'DATABASE_URL={url}\nPulse production settings, edited by ops\n',
    code: 'config.invalid',
    message: '.env line 2: is not KEY=VALUE (it would be ignored)',
    hint: `fix line 2 of {cwd}/.env, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-config.test.ts',
  },
  {
    id: 'config.env-hash',
    group: 'configuration',
    title: 'Unquoted `#` in a `.env` value',
    did: 'Wrote a password holding `#` without quotes; dotenv would cut it at the `#`.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    dotenv: 'DB_HOST={host}\nDB_PORT={port}\nDB_USER={user}\nDB_PASSWORD=pulse#2024\nDB_NAME={database}\n',
    code: 'config.invalid',
    message:
      "DB_PASSWORD (.env line 4): holds a '#' in an unquoted value, where it starts a comment; put the value in quotes",
    hint: `fix DB_PASSWORD in {cwd}/.env (line 4), ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-config.test.ts',
  },
  {
    id: 'config.env-unclosed-quote',
    group: 'configuration',
    title: 'A quote in `.env` that is never closed (several problems at once)',
    did: 'Opened a value with `"` and forgot to close it; every problem is listed at once, one line each.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    dotenv: 'DATABASE_URL="{url}\nLOCK_TIMEOUT=150\n',
    code: 'config.invalid',
    message: 'configuration has 2 problems (environment and {cwd}/.env)',
    details: [
      '.env: a value opened with " is never closed',
      `DATABASE_URL: is not a PostgreSQL connection URL (${URL_HINT})`,
    ],
    hint: `fix the keys named above in .env or the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-config.test.ts',
  },
  {
    id: 'config.timeout-unit',
    group: 'configuration',
    title: 'A timeout with a unit',
    did: 'Wrote `LOCK_TIMEOUT=150ms`; timeouts are whole milliseconds.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', LOCK_TIMEOUT: '150ms' },
    code: 'config.invalid',
    message: 'LOCK_TIMEOUT: must be a whole number of milliseconds above 0, got "150ms"',
    hint: `fix LOCK_TIMEOUT in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-config.test.ts',
  },
  {
    id: 'config.ssl-mode',
    group: 'configuration',
    title: 'DATABASE_SSL with an unknown mode',
    did: 'Wrote `DATABASE_SSL=yes`.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', DATABASE_SSL: 'yes' },
    code: 'config.invalid',
    message: 'DATABASE_SSL: must be one of false, true, require, verify-full, got "yes"',
    hint: `fix DATABASE_SSL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-config.test.ts',
  },
  {
    id: 'config.ssl-ca-missing',
    group: 'configuration',
    title: 'CA certificate file that does not exist',
    did: 'Asked for `verify-full` with a CA file path that is wrong.',
    entry: 'scripts/preflight.ts',
    args: [],
    env: { DATABASE_URL: '{url}', DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: '/etc/ssl/pulse/ca-missing.pem' },
    code: 'config.invalid',
    message: 'DATABASE_SSL_CA: file /etc/ssl/pulse/ca-missing.pem does not exist',
    hint: `fix DATABASE_SSL_CA in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-config.test.ts',
  },
  {
    id: 'config.healthcheck-url',
    group: 'configuration',
    title: 'A health check URL without http://',
    did: 'Wrote `HEALTHCHECK_URLS=localhost:3000/health`.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', HEALTHCHECK_URLS: 'localhost:3000/health' },
    code: 'config.invalid',
    message: 'HEALTHCHECK_URLS: "localhost:3000/health" is not an http(s) URL',
    hint: `fix HEALTHCHECK_URLS in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-config.test.ts',
  },
  {
    id: 'config.drizzle-dir-missing',
    group: 'configuration',
    title: '`--drizzle-dir` that does not exist',
    did: "Pointed upkit at another app's migrations folder with a typo in the path.",
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', 'migratoins'],
    env: { DATABASE_URL: '{url}' },
    code: 'config.invalid',
    message: '--drizzle-dir: directory {cwd}/migratoins does not exist',
    hint: `fix the path given to --drizzle-dir, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-config.test.ts',
  },
];

const connectionValues: FailureCase[] = [
  {
    id: 'url.not-postgres',
    group: 'configuration',
    title: 'DATABASE_URL of another database system',
    did: 'Copied a MySQL URL into DATABASE_URL.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'mysql://pulse:secret@db:3306/pulse' },
    code: 'config.invalid',
    message: `DATABASE_URL: is not a PostgreSQL connection URL (${URL_HINT})`,
    hint: `fix DATABASE_URL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
  {
    id: 'url.password-hash',
    group: 'configuration',
    title: 'A `#` in the password of DATABASE_URL, not percent-encoded',
    did:
      'Put the password `pa#ss` into the URL as it is (the same line for `/` and `?`). ' +
      'The password is never echoed: what the parser took for a port may be part of it.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:pa#ss@{host}:{port}/{database}' },
    code: 'config.invalid',
    message:
      'DATABASE_URL: has a / ? or # in the user name or password that is not percent-encoded ' +
      '(write / as %2F, ? as %3F, # as %23), or set the password in DB_PASSWORD',
    hint: `fix DATABASE_URL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
  {
    id: 'url.password-slash',
    group: 'configuration',
    title: 'A `/` in the password of DATABASE_URL, not percent-encoded',
    did: 'Put the password `pa/ss` into the URL as it is.',
    entry: 'scripts/preflight.ts',
    args: [],
    env: { DATABASE_URL: 'postgres://pulse:pa/ss@{host}:{port}/{database}' },
    code: 'config.invalid',
    message:
      'DATABASE_URL: has a / ? or # in the user name or password that is not percent-encoded ' +
      '(write / as %2F, ? as %3F, # as %23), or set the password in DB_PASSWORD',
    hint: `fix DATABASE_URL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
  {
    id: 'url.space',
    group: 'configuration',
    title: 'A space in DATABASE_URL',
    did: 'Put a password with a space into the URL as it is.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:two words@{host}:{port}/{database}' },
    code: 'config.invalid',
    message: `DATABASE_URL: holds a space (${URL_HINT})`,
    hint: `fix DATABASE_URL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
  {
    id: 'url.no-database',
    group: 'configuration',
    title: 'DATABASE_URL without a database name',
    did: 'Left the `/DATABASE` part off the URL.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:secret@{host}:{port}' },
    code: 'config.invalid',
    message: `DATABASE_URL: names no database (${URL_HINT})`,
    hint: `fix DATABASE_URL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
  {
    id: 'url.no-host',
    group: 'configuration',
    title: 'DATABASE_URL without a host',
    did: 'Wrote `postgres://pulse:secret@:5432/pulse`.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:secret@:{port}/{database}' },
    code: 'config.invalid',
    message: `DATABASE_URL: names no host (${URL_HINT})`,
    hint: `fix DATABASE_URL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
  {
    id: 'url.port-range',
    group: 'configuration',
    title: 'DATABASE_URL with a port out of range',
    did: 'Wrote port 65536.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:secret@{host}:65536/{database}' },
    code: 'config.invalid',
    message: `DATABASE_URL: has a port that is not a number from 1 to 65535 (${URL_HINT})`,
    hint: `fix DATABASE_URL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
  {
    id: 'url.direct-url',
    group: 'configuration',
    title: 'DIRECT_URL malformed while DATABASE_URL is fine',
    did: 'Set DIRECT_URL (used for migrations, to bypass a pooler) with a port that is not a number.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', DIRECT_URL: 'postgres://pulse:secret@{host}:pgport/{database}' },
    code: 'config.invalid',
    message: `DIRECT_URL: has a port that is not a number from 1 to 65535 (${URL_HINT})`,
    hint: `fix DIRECT_URL in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing',
    test: 'failures-url.test.ts',
  },
  {
    id: 'parts.db-name-missing',
    group: 'configuration',
    title: 'DB_* keys without DB_NAME',
    did: 'Used DB_HOST, DB_PORT, DB_USER and DB_PASSWORD and forgot DB_NAME.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DB_HOST: '{host}', DB_PORT: '{port}', DB_USER: '{user}', DB_PASSWORD: '{password}' },
    code: 'config.invalid',
    message: 'DB_NAME: is not set (set DATABASE_URL, or DB_HOST, DB_USER and DB_NAME)',
    hint: `fix DB_NAME in the environment or .env, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
  {
    id: 'parts.port',
    group: 'configuration',
    title: 'DB_PORT that is not a number',
    did: 'Wrote `DB_PORT=5432/tcp`.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: {
      DB_HOST: '{host}',
      DB_PORT: '5432/tcp',
      DB_USER: '{user}',
      DB_PASSWORD: '{password}',
      DB_NAME: '{database}',
    },
    code: 'config.invalid',
    message: 'DB_PORT: port must be a number from 1 to 65535, got "5432/tcp"',
    hint: `fix DB_PORT in the environment, ${PREFLIGHT_NEXT}`,
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-url.test.ts',
  },
];

const CONNECT_NEXT = 'then run: npx zx scripts/preflight.ts';

const connection: FailureCase[] = [
  {
    id: 'conn.wrong-password',
    group: 'connection',
    title: 'Wrong password (preflight)',
    did: 'Checked readiness with a DATABASE_URL whose password is wrong.',
    entry: 'scripts/preflight.ts',
    args: [],
    env: { DATABASE_URL: 'postgres://{user}:not-the-password@{host}:{port}/{database}' },
    code: 'preflight.db_auth',
    step: 'connection',
    message: 'password authentication failed for user "{user}" at {host}:{port}',
    hint: `check the password (in DATABASE_URL), ${CONNECT_NEXT}`,
    exit: 3,
    changed: 'nothing',
    note:
      'preflight ends with `✖ preflight refused: 1 check failed; ' +
      'nothing was changed`. The password is never printed.',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.wrong-db-password',
    group: 'connection',
    title: 'Wrong DB_PASSWORD (upgrade)',
    did: 'Ran the upgrade with the DB_* keys and a wrong DB_PASSWORD.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: {
      DB_HOST: '{host}',
      DB_PORT: '{port}',
      DB_USER: '{user}',
      DB_PASSWORD: 'not-the-password',
      DB_NAME: '{database}',
    },
    code: 'db.auth',
    message: 'password authentication failed for user "{user}" at {host}:{port}',
    hint: `check the password (DB_PASSWORD), ${CONNECT_NEXT}`,
    exit: 3,
    changed: 'nothing',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.unknown-role',
    group: 'connection',
    title: 'A role that does not exist',
    did: 'Named a database user that was never created.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse_nobody:secret@{host}:{port}/{database}' },
    code: 'db.auth',
    message: 'password authentication failed for user "pulse_nobody" at {host}:{port}',
    hint: `check the password (in DATABASE_URL), ${CONNECT_NEXT}`,
    exit: 3,
    changed: 'nothing',
    note: 'PostgreSQL answers an unknown role exactly as a wrong password, so that roles cannot be probed; check both.',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.refused',
    group: 'connection',
    title: 'Nothing listens on the port',
    did: 'Pointed DATABASE_URL at a port where no server runs (PostgreSQL stopped, or the wrong port).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:secret@{host}:{port}/pulse' },
    code: 'db.unreachable',
    message: 'cannot connect to PostgreSQL at {host}:{port}: connection refused',
    hint: `is the server running and listening there? check DATABASE_URL, ${CONNECT_NEXT}`,
    exit: 3,
    changed: 'nothing (no database was reached)',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.dns',
    group: 'connection',
    title: 'A host name that does not resolve',
    did: 'Wrote a host name with a typo (or one only the containers can resolve).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:secret@pulse-db.invalid:5432/pulse' },
    code: 'db.unresolved',
    message: 'cannot resolve the database host "pulse-db.invalid"',
    hint: `check the host name in DATABASE_URL, ${CONNECT_NEXT}`,
    exit: 3,
    changed: 'nothing (no database was reached)',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.silent',
    group: 'connection',
    title: 'A host that never answers',
    did:
      'Pointed DATABASE_URL at an address that accepts the ' +
      'connection and then says nothing (a firewall, a stuck proxy).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:secret@{host}:{port}/pulse', CONNECT_TIMEOUT: '1500' },
    code: 'db.timeout',
    message: 'no answer from PostgreSQL at {host}:{port} within 2 s',
    hint: `check that {host}:{port} is reachable from this host and DATABASE_URL is right, ${CONNECT_NEXT}`,
    exit: 3,
    changed: 'nothing (no database was reached)',
    note: 'upkit waits CONNECT_TIMEOUT ms (10 s by default); the test sets 1.5 s.',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.not-postgres',
    group: 'connection',
    title: "The port of another service (the application's HTTP port)",
    did: "Wrote the application's port into DATABASE_URL instead of PostgreSQL's.",
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://pulse:secret@{host}:{port}/pulse' },
    code: 'db.not_postgres',
    message: '{host}:{port} closed the connection without answering as PostgreSQL does',
    hint: `check that DATABASE_URL names the PostgreSQL server's port, not another service's, ${CONNECT_NEXT}`,
    exit: 3,
    changed: 'nothing (no database was reached)',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.database-missing',
    group: 'connection',
    title: 'The database does not exist',
    did: 'Ran the upgrade against a database name that the server does not have.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'db.missing',
    message: 'database "{database}" does not exist on {host}:{port}',
    hint: 'create it with: npx zx install.ts (or check the database name)',
    exit: 3,
    changed: 'nothing (no database is created)',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.ssl-unsupported',
    group: 'connection',
    title: 'SSL required by upkit, not offered by the server',
    did: 'Set `DATABASE_SSL=require` for a server that has SSL off.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', DATABASE_SSL: 'require' },
    code: 'db.ssl',
    message: 'SSL connection to {host}:{port} failed: The server does not support SSL connections',
    hint: `check DATABASE_SSL and DATABASE_SSL_CA, ${CONNECT_NEXT}`,
    exit: 3,
    changed: 'nothing',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.not-accepting',
    group: 'connection',
    title: 'A database that does not accept connections',
    did:
      'Ran the upgrade while the database had ALLOW_CONNECTIONS off ' +
      '(as an administrator or a stopped restore swap leaves it).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'database.refuses_connections',
    message:
      'database {database} refuses connections (ALLOW_CONNECTIONS is off), ' +
      "and no restore of upkit's was stopped in its swap",
    hint:
      `if nobody turned it off on purpose, turn it on: psql -h {host} -p {port} -U {user} -d ` +
      `postgres -v ON_ERROR_STOP=1 -c 'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true'`,
    exit: 3,
    changed: 'nothing',
    note:
      'upkit reads the server from the maintenance database to tell this ' +
      'from a restore stopped in its swap (restore.interrupted-swap).',
    test: 'failures-connection.test.ts',
  },
  {
    id: 'conn.role-limit',
    group: 'connection',
    title: "The role's connection limit is reached",
    did: 'Ran the upgrade as a role whose CONNECTION LIMIT the application already uses up.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://{user}:{password}@{host}:{port}/{database}' },
    code: 'db.busy',
    message:
      'PostgreSQL at {host}:{port} has no connection slot left ' +
      'for user "{user}": too many connections for role "{user}"',
    hint:
      'wait for connections to close, or raise the limit (max_connections, ' +
      "or the role's or database's CONNECTION LIMIT), then run the command again",
    exit: 3,
    changed: 'nothing',
    test: 'failures-connection.test.ts',
  },
];

const server: FailureCase[] = [
  {
    id: 'server.privileges-preflight',
    group: 'server',
    title: 'A role without privileges (preflight)',
    did: 'Checked readiness as a role that may read but not create schemas or tables.',
    entry: 'scripts/preflight.ts',
    args: [],
    env: { DATABASE_URL: 'postgres://{user}:{password}@{host}:{port}/{database}' },
    code: 'preflight.privileges',
    step: 'privileges',
    message: 'role "{user}" lacks CREATE on database {database} and CREATE on schema public',
    hint:
      'run as an administrator: GRANT CREATE ON DATABASE "{database}" TO "{user}"; ' +
      'GRANT CREATE ON SCHEMA public TO "{user}"; (or connect as the database owner)',
    exit: 3,
    changed: 'nothing',
    test: 'failures-server.test.ts',
  },
  {
    id: 'server.privileges-upgrade',
    group: 'server',
    title: 'A role without privileges (upgrade)',
    did: 'Ran the upgrade of a v2.2 install as a role that may read but not create.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: 'postgres://{user}:{password}@{host}:{port}/{database}' },
    code: 'preflight.privileges',
    message: 'role "{user}" lacks CREATE on database {database} and CREATE on schema public',
    hint:
      'run as an administrator: GRANT CREATE ON DATABASE "{database}" TO "{user}"; ' +
      'GRANT CREATE ON SCHEMA public TO "{user}"; (or connect as the database owner)',
    exit: 3,
    changed: 'nothing (not even upkit.runs: the check comes before anything is recorded)',
    test: 'failures-server.test.ts',
  },
  {
    id: 'server.too-old-preflight',
    group: 'server',
    title: 'PostgreSQL older than 14 (preflight)',
    did: 'Checked readiness against a PostgreSQL 13 server.',
    entry: 'scripts/preflight.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'preflight.server_version',
    step: 'server version',
    message: 'PostgreSQL {version} is older than 14, the oldest upkit supports',
    hint: 'upgrade the server to PostgreSQL 14 or newer first; nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-server.test.ts',
  },
  {
    id: 'server.too-old-upgrade',
    group: 'server',
    title: 'PostgreSQL older than 14 (upgrade)',
    did: 'Ran the upgrade of a v1.2 install on a PostgreSQL 13 server.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'preflight.server_version',
    message: 'PostgreSQL {version} is older than 14, the oldest upkit supports',
    hint: 'upgrade the server to PostgreSQL 14 or newer first; nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-server.test.ts',
  },
];

const BACKUP_DIR_HINT =
  'set BACKUP_DIR to a directory this user can write, or pass --backup-dir DIR; nothing was changed';

const tools: FailureCase[] = [
  {
    id: 'tools.no-pg-dump',
    group: 'tools',
    title: 'No pg_dump at all',
    did:
      'Ran the upgrade on a host without the PostgreSQL client ' +
      'programs (the test points UPKIT_PG_BINDIR at an empty directory).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', UPKIT_PG_BINDIR: '{bindir}' },
    code: 'backup.no_pg_dump',
    message: 'no pg_dump of PostgreSQL {major} or newer to back up with (none found)',
    hint: 'install one: {package}; or set UPKIT_PG_BINDIR to its directory; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs: pg_dump is looked for before anything is recorded)',
    note:
      '`{package}` is the command for this operating system, e.g. `apt-get install ' +
      'postgresql-client-15 (from the PostgreSQL apt repository if your release lacks it)` on Debian and Ubuntu, ' +
      '`dnf install postgresql15` on RHEL, `brew install postgresql@15` on macOS.',
    test: 'failures-tools.test.ts',
  },
  {
    id: 'tools.pg-dump-too-old',
    group: 'tools',
    title: 'pg_dump older than the server',
    did:
      'Upgraded a server whose major version is newer than every pg_dump on ' +
      "the host (the test starts a PostgreSQL newer than the host's pg_dump).",
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', UPKIT_PG_BINDIR: '{bindir}' },
    code: 'backup.no_pg_dump',
    message: 'no pg_dump of PostgreSQL {major} or newer to back up with (found only {version} at {bindir}/pg_dump)',
    hint: 'install one: {package}; or set UPKIT_PG_BINDIR to its directory; nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-tools.test.ts',
  },
  {
    id: 'tools.backup-dir-file',
    group: 'tools',
    title: 'BACKUP_DIR under a file',
    did:
      'Set BACKUP_DIR to a path whose parent is a regular file. (Root may write anywhere, so a permission ' +
      'denial cannot be shown as root; a file in the way and a read-only disk, the next case, stop root too.)',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}' },
    code: 'backup.dir_not_writable',
    message: 'cannot write backups in {dir}: {file} is a file, not a directory',
    hint: BACKUP_DIR_HINT,
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    test: 'failures-tools.test.ts',
  },
  {
    id: 'tools.backup-dir-readonly',
    group: 'tools',
    title: 'BACKUP_DIR on a read-only file system',
    did:
      'Passed `--backup-dir` on a disk mounted read-only (the test ' +
      'mounts a read-only tmpfs, which needs root; CI runs as root).',
    entry: 'upgrade.ts',
    args: ['--yes', '--backup-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'backup.dir_not_writable',
    message: 'cannot write backups in {dir}: {mount} is on a read-only file system',
    hint: BACKUP_DIR_HINT,
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    test: 'failures-tools.test.ts',
  },
  {
    id: 'tools.no-room',
    group: 'tools',
    title: 'Not enough room for the backup',
    did:
      'Ran the upgrade with BACKUP_DIR on a disk with less free space ' +
      'than the database needs (the test mounts a 1 MB tmpfs, as root).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}' },
    code: 'backup.disk_space',
    message: 'only {size} free in {mount}; the backup may need up to {size}',
    hint: 'free some space, or set BACKUP_DIR (or --backup-dir) to a larger disk; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'the room needed is the database size for a first backup, ' +
      'else the previous backup scaled by how much the database grew, times 1.5.',
    test: 'failures-tools.test.ts',
  },
  {
    id: 'tools.disk-full',
    group: 'tools',
    title: 'The disk fills up during the backup',
    did:
      'Another program filled the backup disk while pg_dump was writing (the ' +
      'test holds pg_dump on a table lock, fills a tmpfs, then lets it go; root).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}' },
    code: 'backup.disk_full',
    message: 'the disk holding {dir} filled up while writing the backup; the partial file was removed',
    hint:
      'free some space or set BACKUP_DIR (or --backup-dir) ' +
      'to a larger disk, then run the command again; nothing was changed',
    exit: 3,
    changed:
      "nothing in Pulse's schema, data or ledgers; upkit.runs records " +
      'the run as refused (it was recorded before the backup began)',
    test: 'failures-tools.test.ts',
  },
];

const FOLDER_HINT =
  'restore the folder from the upkit release you are running, or point --drizzle-dir at a complete one';

const migrations: FailureCase[] = [
  {
    id: 'mig.edited',
    group: 'migrations',
    title: 'A migration edited after it was applied',
    did:
      'Edited 0001_api_keys.sql, which the database already recorded (the test edits a copy ' +
      "of the folder and passes it with --drizzle-dir; Pulse's own folder behaves the same).",
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'ledger.hash_mismatch',
    message: "0001_api_keys.sql was changed after it was applied: its sha256 no longer matches drizzle's ledger",
    hint:
      'put {dir}/0001_api_keys.sql back as it was released (or undo the edit), ' +
      'then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.missing-file',
    group: 'migrations',
    title: 'A migration file the journal names is missing',
    did: 'Deleted (or never copied) 0002_audit_logs.sql while the journal still lists it.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'drizzle.journal',
    message: 'drizzle folder {dir}: the journal names 0002_audit_logs, but 0002_audit_logs.sql does not exist',
    hint: FOLDER_HINT,
    exit: 3,
    changed: 'nothing',
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.journal-json',
    group: 'migrations',
    title: 'A journal that is not valid JSON',
    did: 'Saved meta/_journal.json half-edited.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'drizzle.journal',
    message: 'drizzle folder {dir}: meta/_journal.json is not valid JSON ({reason})',
    hint: FOLDER_HINT,
    exit: 3,
    changed: 'nothing',
    note: "`{reason}` is the JSON parser's own words, e.g. `Unexpected end of JSON input`.",
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.duplicate-when',
    group: 'migrations',
    title: 'Two journal entries with the same `when`',
    did:
      'Merged two branches whose migrations were generated in the same ' +
      'millisecond (the test copies one `when` onto the next entry).',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'journal.duplicate_when',
    message:
      'journal entries 0002_audit_logs and 0003_integration_status_enum ' +
      'share the same `when` ({when}), so drizzle could not tell them apart',
    hint:
      'give each entry its own `when` (regenerate the migrations ' +
      'with drizzle-kit: npm run db:generate); nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.future-when',
    group: 'migrations',
    title: 'A journal entry with a `when` in the future',
    did: 'Generated a migration on a machine whose clock was wrong, then looked at the plan.',
    entry: 'upgrade.ts',
    args: ['--dry-run', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    severity: 'warning',
    code: 'journal.future_when',
    message: '0003_integration_status_enum has a `when` in the future (2100-01-01T00:00:00.000Z)',
    hint: 'check the clock of the machine that generated it',
    exit: 0,
    changed: 'nothing (a dry run); a real run applies the migration and keeps the warning',
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.syntax-drizzle',
    group: 'migrations',
    title: 'SQL syntax error in a pending migration',
    did: 'Edited a pending migration and broke its first statement.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'sql.syntax',
    message: '{dir}/0003_integration_status_enum.sql:1:1: syntax error at or near "CRATE"',
    details: [
      `1 | CRATE TYPE "public"."integration_status" AS ENUM('active', 'paused', 'error');--> statement-breakpoint`,
      '    ^',
    ],
    hint: 'fix the SQL in {dir}/0003_integration_status_enum.sql; nothing was changed',
    exit: 3,
    changed: 'nothing (pending files are parsed with the PostgreSQL parser before anything runs)',
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.syntax-legacy',
    group: 'migrations',
    title: 'SQL syntax error in a legacy file',
    did: 'Upgraded a v1.0 install with a legacy folder whose rbac-permissions-fix.sql has a stray comma.',
    entry: 'upgrade.ts',
    args: ['--yes', '--legacy-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'sql.syntax',
    message: '{dir}/rbac-permissions-fix.sql:17:41: syntax error at or near ","',
    details: ['17 | CREATE TABLE IF NOT EXISTS permissions (,', '                                             ^'],
    hint: 'fix the SQL in {dir}/rbac-permissions-fix.sql; nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.legacy-file-missing',
    group: 'migrations',
    title: 'A legacy file the manifest names is missing',
    did: 'Copied the legacy folder without rbac-permissions-fix.sql.',
    entry: 'upgrade.ts',
    args: ['--yes', '--legacy-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'legacy.manifest',
    message: 'legacy SQL folder {dir}: manifest.json names rbac-permissions-fix.sql, which does not exist',
    hint:
      'restore the folder from the upkit release you are running (git ' +
      'checkout -- legacy-sql), or point --legacy-dir at a complete one',
    exit: 3,
    changed: 'nothing',
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.database-ahead',
    group: 'migrations',
    title: 'The database is newer than this upkit',
    did:
      'Ran an older upkit against a database a newer release already ' +
      'migrated (its ledger has a row these files do not know).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'ledger.unknown_entry',
    message:
      'the database records 1 migration these files do not have ' +
      "(created_at 4102444800000): it is newer than this upkit's content",
    hint:
      'run the upkit release that matches the database (or restore ' +
      'a backup taken before that release); nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-migrations.test.ts',
  },
  {
    id: 'mig.destructive',
    group: 'migrations',
    title: 'A destructive statement without `--allow-destructive`',
    did: 'Added a migration that drops a column with data.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.destructive',
    message: '1 destructive statement pending: 0004_drop_name.sql:1 drops column users.name and its data',
    hint:
      'review them; if they are intended, run again with ' +
      '--allow-destructive=0004_drop_name (a backup is taken first); nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-migrations.test.ts',
  },
];

const data: FailureCase[] = [
  {
    id: 'data.case-duplicate-emails',
    group: 'data',
    title: 'Two users whose emails differ only by case',
    did:
      'Upgraded a v1.2 install where `Alice@x.example` and `alice@x.example` ' +
      'both exist; v1.3 makes emails unique regardless of case.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'check.guard',
    message:
      'comprehensive-upgrade.sql:196: ERROR 23505: users whose emails differ only by case: ' +
      'Alice@x.example (organization org-2) and alice@x.example ' +
      '(organization org-2) (a check of that file, run read-only before any change)',
    hint:
      'decide which account of each pair survives, change or remove the other, ' +
      'then run the upgrade again; nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs, and no backup is taken)',
    note:
      "the v1.3 file's own check (a DO block that only reads and RAISEs) runs in the plan's " +
      'read-only transaction, as every pending guard does unless an earlier pending statement ' +
      'changes the rows it reads. Before, comprehensive-upgrade.sql failed on the pair, ' +
      'the files one by one re-applied v1.0 to v1.2 and recorded them, and v1.3 failed: exit 1.',
    test: 'failures-data.test.ts',
  },
];

const concurrency: FailureCase[] = [
  {
    id: 'conc.second-run',
    group: 'concurrency',
    title: 'A second upgrade while one runs',
    did: 'Started the upgrade in a second terminal while the first still held the run lock.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'lock.held',
    message:
      'another upkit run holds the lock on {database}: ' +
      'pid {pid} (upkit upgrade ops-host 4242 from {client}, connected {time})',
    hint: 'wait for it to finish (npx zx scripts/status.ts shows it); nothing was changed',
    exit: 5,
    changed: 'nothing',
    note: 'the test holds the lock from a session named as an upgrade on host ops-host names itself.',
    test: 'failures-concurrency.test.ts',
  },
  {
    id: 'conc.stale-run',
    group: 'concurrency',
    title: 'A `running` run left by a run that died',
    did:
      'Upgraded after an earlier run was killed with kill -9 (the test records ' +
      'a run as `running` without a lock, which is what such a run leaves).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    severity: 'warning',
    code: 'run.crashed',
    message:
      'an earlier run (upgrade, started {started} on {runHost}, pid {runPid}) died without finishing; marked crashed',
    hint: 'this run picks up where it stopped',
    exit: 0,
    changed: 'the upgrade completes (v2.2 → v2.3); the old row in upkit.runs becomes `crashed`',
    test: 'failures-concurrency.test.ts',
  },
  {
    id: 'conc.lock-timeout',
    group: 'concurrency',
    title: 'The application holds a table lock for longer than upkit waits',
    did: 'Upgraded while a report held a transaction open on aws_integrations, which 0003 alters.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', LOCK_TIMEOUT: '150', LOCK_RETRIES: '1' },
    code: 'lock.timeout',
    message:
      '0003_integration_status_enum: could not get its locks within 150 ms after 2 attempts; ' +
      'pid {pid} (pulse-api report) holds AccessShareLock on aws_integrations ' +
      'for {seconds} s, idle in transaction: select count(*) from aws_integrations',
    hint:
      'wait for that work to end, or stop it with: SELECT pg_cancel_backend({pid}); ' +
      '(pg_terminate_backend to end the session), then run the upgrade again',
    exit: 3,
    changed:
      "nothing in Pulse's schema, data or ledgers (every attempt was rolled back); " +
      'upkit.runs records the run as refused, and the backup it took is kept',
    note:
      'between attempts application queries are never held up ' +
      'longer than LOCK_TIMEOUT; a ⚠ line reports each retry.',
    test: 'failures-concurrency.test.ts',
  },
];

const AGAIN = 'run the upgrade again when ready';
const FINISH = 'run the upgrade again to finish; to go back: npx zx scripts/restore.ts {backup}';

const interruption: FailureCase[] = [
  {
    id: 'int.preflight',
    group: 'concurrency',
    title: 'Ctrl-C during preflight',
    did: 'Pressed Ctrl-C while preflight waited for a host that does not answer.',
    entry: 'scripts/preflight.ts',
    args: [],
    env: { DATABASE_URL: 'postgres://pulse:secret@{host}:{port}/pulse' },
    code: 'interrupted',
    message: 'interrupted by SIGINT; preflight only reads, so nothing was changed',
    hint: 'run: npx zx scripts/preflight.ts again when ready',
    exit: 130,
    changed: 'nothing',
    note: 'read-only commands (preflight, verify, status, health) stop at once.',
    test: 'failures-interrupt.test.ts',
  },
  {
    id: 'int.plan',
    group: 'concurrency',
    title: 'Ctrl-C while the plan is read',
    did:
      'Pressed Ctrl-C while upkit read the database for its plan (the test ' +
      'makes the read wait behind an exclusive lock on the drizzle ledger).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'interrupted',
    message: 'interrupted by SIGINT during the plan (reading the database); nothing was changed',
    hint: AGAIN,
    exit: 130,
    changed: 'nothing (not even upkit.runs); the run lock is released',
    test: 'failures-interrupt.test.ts',
  },
  {
    id: 'int.backup',
    group: 'concurrency',
    title: 'SIGTERM during the backup',
    did:
      'Stopped the upgrade with SIGTERM (as `docker stop` or systemd do) ' +
      'while pg_dump ran (the test holds pg_dump on a table lock).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'interrupted',
    message:
      'interrupted by SIGTERM during the backup; the partial backup file was ' +
      'removed and nothing was changed; upkit.runs records the run as interrupted',
    hint: AGAIN,
    exit: 130,
    changed:
      "nothing in Pulse's schema, data or ledgers; upkit.runs records the run as interrupted; no backup file is left",
    test: 'failures-interrupt.test.ts',
  },
  {
    id: 'int.lock-wait',
    group: 'concurrency',
    title: 'Ctrl-C while upkit waits for a table lock',
    did:
      'Pressed Ctrl-C while upkit waited between attempts for a lock the application held on organizations. ' +
      "(upkit's own run lock is never waited for: a second run is refused at once.)",
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'interrupted',
    message:
      'interrupted by SIGINT during drizzle: 0001_api_keys (6 statements); ' +
      'it was rolled back and nothing was changed; upkit.runs records the run as interrupted',
    hint: `${AGAIN} (the backup it took: {backup})`,
    exit: 130,
    changed:
      "nothing in Pulse's schema, data or ledgers; " +
      'upkit.runs records the run as interrupted; the backup it took is kept',
    test: 'failures-interrupt.test.ts',
  },
  {
    id: 'int.legacy',
    group: 'concurrency',
    title: 'Ctrl-C during the legacy phase',
    did: 'Pressed Ctrl-C while comprehensive-upgrade.sql waited for a lock on users (a v1.1 install).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', LOCK_TIMEOUT: '60000' },
    code: 'interrupted',
    message:
      'interrupted by SIGINT during legacy: comprehensive-upgrade.sql (fallback: upgrade.sql, ' +
      'feature-flags-migration.sql, rbac-permissions-fix.sql, email-case-insensitive-fix.sql, ' +
      'discovery-migration.sql); it was rolled back and nothing was changed; upkit.runs records the run as interrupted',
    hint: `${AGAIN} (the backup it took: {backup})`,
    exit: 130,
    changed:
      "nothing in Pulse's schema, data or ledgers (the file runs in one transaction, " +
      'rolled back); upkit.runs records the run as interrupted; the backup is kept',
    test: 'failures-interrupt.test.ts',
  },
  {
    id: 'int.drizzle',
    group: 'concurrency',
    title: 'Ctrl-C during a drizzle migration, after another was committed',
    did:
      'Pressed Ctrl-C while 0003 waited for a lock on aws_integrations, ' +
      'after 0002 had been applied (a v2.1 install).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', LOCK_TIMEOUT: '60000' },
    code: 'interrupted',
    message:
      'interrupted by SIGINT during drizzle: 0003_integration_status_enum (7 statements); ' +
      'the statement in progress was rolled back and the database stands ' +
      'after 0002_audit_logs (v2.2); upkit.runs records the run as interrupted',
    hint: FINISH,
    exit: 130,
    changed:
      "0002_audit_logs is applied and recorded in drizzle's ledger (v2.2); " +
      'nothing of 0003 is; upkit.runs records the run as interrupted',
    test: 'failures-interrupt-late.test.ts',
  },
  {
    id: 'int.seed',
    group: 'concurrency',
    title: 'Ctrl-C while seed data is written',
    did:
      'Pressed Ctrl-C while the seed data waited for a lock on permissions, ' +
      'after 0003 had been applied (a v2.2 install).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', LOCK_TIMEOUT: '60000' },
    code: 'interrupted',
    message:
      'interrupted by SIGINT during seed data for v2.3; the statement in progress was rolled back and the ' +
      'database stands after 0003_integration_status_enum (v2.3); upkit.runs records the run as interrupted',
    hint: FINISH,
    exit: 130,
    changed:
      "0003 is applied and recorded; v2.3's seed data is not written (permissions " +
      'and flags as before); upkit.runs records the run as interrupted',
    test: 'failures-interrupt-late.test.ts',
  },
  {
    id: 'int.verify',
    group: 'concurrency',
    title: 'Ctrl-C during verification',
    did: 'Pressed Ctrl-C while the verification after the upgrade waited for a lock on users.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', LOCK_TIMEOUT: '60000' },
    code: 'interrupted',
    message:
      'interrupted by SIGINT during verification; every step of the plan was applied and ' +
      'the database stands after seed data (v2.3); upkit.runs records the run as interrupted',
    hint: 'finish the check with: npx zx verify/index.ts; to go back: npx zx scripts/restore.ts {backup}',
    exit: 130,
    changed:
      'the whole upgrade (v2.2 → v2.3) is applied; only its verification ' +
      'did not finish; upkit.runs records the run as interrupted',
    test: 'failures-interrupt-late.test.ts',
  },
  {
    id: 'int.containers',
    group: 'concurrency',
    title: 'Ctrl-C while the containers start',
    did: 'Pressed Ctrl-C while upkit waited for the rebuilt containers to be running and healthy.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', COMPOSE_FILE: '{compose}' },
    code: 'interrupted',
    message:
      'interrupted by SIGINT during the containers; every step of the plan was applied and ' +
      'the database stands after seed data (v2.3); upkit.runs records the run as interrupted',
    hint: 'check the application with: npx zx scripts/health.ts; to go back: npx zx scripts/restore.ts {backup}',
    exit: 130,
    changed: 'the whole upgrade (v2.2 → v2.3) is applied and verified; upkit.runs records the run as interrupted',
    note:
      'no Docker engine runs where the tests do: the test uses the recorded docker ' +
      'stand-in (test/fixtures/compose) with containers that stay `starting`.',
    test: 'failures-interrupt-late.test.ts',
  },
  {
    id: 'int.health',
    group: 'concurrency',
    title: 'Ctrl-C during the health checks',
    did: 'Pressed Ctrl-C while upkit polled an endpoint that kept answering 503.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', HEALTHCHECK_URLS: '{endpoint}' },
    code: 'interrupted',
    message:
      'interrupted by SIGINT during the health checks; every step of the plan was applied and ' +
      'the database stands after seed data (v2.3); upkit.runs records the run as interrupted',
    hint: 'check the application with: npx zx scripts/health.ts; to go back: npx zx scripts/restore.ts {backup}',
    exit: 130,
    changed: 'the whole upgrade (v2.2 → v2.3) is applied and verified; upkit.runs records the run as interrupted',
    test: 'failures-interrupt-late.test.ts',
  },
];

const PICK_ANOTHER = 'pick another backup, or take a new one with: npx zx scripts/backup.ts; nothing was changed';

const restore: FailureCase[] = [
  {
    id: 'restore.truncated',
    group: 'restore',
    title: 'Restore of a truncated backup',
    did: 'Restored a backup that was cut short while it was copied to this host.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check backup',
    code: 'restore.size_mismatch',
    message: 'backup {file} is {actual} bytes ({size}) but its manifest says {bytes} ({size}): truncated or replaced',
    hint: PICK_ANOTHER,
    exit: 3,
    changed: 'nothing (no database is created; the live one is not touched)',
    test: 'failures-restore.test.ts',
  },
  {
    id: 'restore.corrupt',
    group: 'restore',
    title: 'Restore of a corrupt backup (one byte changed)',
    did: 'Restored a backup whose size is right but one byte of which changed on disk.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check backup',
    code: 'restore.sha256_mismatch',
    message: 'backup {file} has sha256 {actualSha}, its manifest says {sha}: the file was changed or damaged',
    hint: PICK_ANOTHER,
    exit: 3,
    changed: 'nothing',
    test: 'failures-restore.test.ts',
  },
  {
    id: 'restore.not-an-archive',
    group: 'restore',
    title: 'Restore of a file that is not an archive',
    did: 'Restored a file that is not a pg_dump archive, beside a manifest that matches its size and digest.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check backup',
    code: 'backup.unreadable',
    message: 'pg_restore cannot read {file}: input file does not appear to be a valid archive',
    hint: 'the archive is damaged or not a custom-format dump; take a new one with npx zx scripts/backup.ts',
    exit: 3,
    changed: 'nothing',
    test: 'failures-restore.test.ts',
  },
  {
    id: 'restore.no-manifest',
    group: 'restore',
    title: 'Restore of a backup without its manifest',
    did: 'Copied the .dump file to this host without the .dump.json beside it.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check backup',
    code: 'backup.manifest',
    message: 'backup manifest {file}.json is missing: without it the backup cannot be checked before it is restored',
    hint: 'use a backup upkit wrote and verified (npx zx scripts/backup.ts makes a new one); nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-restore.test.ts',
  },
  {
    id: 'restore.no-file',
    group: 'restore',
    title: 'Restore of a file that does not exist',
    did: 'Mistyped the backup file name.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check backup',
    code: 'restore.no_archive',
    message: 'backup {file} does not exist or is not a file',
    hint: 'give the path of a .dump file that upkit wrote (ls BACKUP_DIR); nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-restore.test.ts',
  },
  {
    id: 'restore.into-exists',
    group: 'restore',
    title: 'Restore `--into` a database that exists',
    did: 'Restored beside the live database under a name that is taken.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--into', '{into}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check {host}:{port}',
    code: 'restore.target_exists',
    message: 'database {into} already exists',
    hint: 'choose a new name with --into NAME, or drop that database first; nothing was changed',
    exit: 3,
    changed: 'nothing (neither database is touched)',
    test: 'failures-restore.test.ts',
  },
  {
    id: 'restore.no-terminal',
    group: 'restore',
    title: 'Restore without a terminal and without `--yes`',
    did: 'Ran the in-place restore from a script, where nobody can type the database name.',
    entry: 'scripts/restore.ts',
    args: ['{file}'],
    env: { DATABASE_URL: '{url}' },
    code: 'restore.no_terminal',
    message: 'restore asks you to type the database name, and there is no terminal to ask on; nothing was changed',
    hint: 'run it on a terminal, or add --yes: npx zx scripts/restore.ts {file} --yes',
    exit: 2,
    changed: 'nothing',
    test: 'failures-restore.test.ts',
  },
  {
    id: 'rollback.no-run',
    group: 'restore',
    title: 'Rollback where no upgrade ran',
    did: 'Asked to roll back a database that upkit never upgraded.',
    entry: 'scripts/rollback.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.no_backup',
    message: 'no upkit run on {database} recorded a backup',
    hint: 'restore a backup by hand: npx zx scripts/restore.ts FILE; nothing was changed',
    exit: 3,
    changed: 'nothing',
    test: 'failures-restore.test.ts',
  },
];

const commandLine: FailureCase[] = [
  {
    id: 'cli.unknown-flag',
    group: 'command-line',
    title: 'Unknown flag',
    did: 'Typed `--force`, which upkit does not have.',
    entry: 'upgrade.ts',
    args: ['--force'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: "Unknown option '--force'",
    hint: 'run: npx zx upgrade.ts --help',
    exit: 2,
    changed: 'nothing',
    note: 'the usage follows the hint.',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.missing-value',
    group: 'command-line',
    title: 'Flag without its value',
    did: 'Typed `--backup-dir` at the end of the line, without a directory.',
    entry: 'upgrade.ts',
    args: ['--yes', '--backup-dir'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: "Option '--backup-dir <value>' argument missing",
    hint: 'run: npx zx upgrade.ts --help',
    exit: 2,
    changed: 'nothing',
    json: false,
    note: 'the case is run without --json, which would otherwise be taken as the missing value.',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.conflicting-flags',
    group: 'command-line',
    title: 'Conflicting flags: `--dry-run` with `--rehearse`',
    did: 'Asked for a rehearsal on a dry run, which takes no backup to rehearse on.',
    entry: 'upgrade.ts',
    args: ['--dry-run', '--rehearse'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: '--dry-run and --rehearse do not go together: a rehearsal needs the backup a dry run does not take',
    hint: 'run: npx zx upgrade.ts --rehearse (or --dry-run alone)',
    exit: 2,
    changed: 'nothing',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.no-backup-with-backup-dir',
    group: 'command-line',
    title: 'Conflicting flags: `--no-backup` with `--backup-dir`',
    did: 'Asked for no backup and for a backup directory in the same run.',
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--backup-dir', '/srv/backups'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: '--no-backup and --backup-dir do not go together: with --no-backup upkit writes no backup',
    hint: 'run: npx zx upgrade.ts --no-backup (or --backup-dir DIR alone)',
    exit: 2,
    changed: 'nothing',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.no-backup-with-rehearse',
    group: 'command-line',
    title: 'Conflicting flags: `--no-backup` with `--rehearse`',
    did: 'Asked for a rehearsal, which runs on a copy restored from the backup, and for no backup.',
    entry: 'upgrade.ts',
    args: ['--yes', '--no-backup', '--rehearse'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message:
      '--no-backup and --rehearse do not go together: a rehearsal runs ' +
      'on a copy restored from the backup --no-backup does not take',
    hint: 'run: npx zx upgrade.ts --rehearse (or --no-backup alone)',
    exit: 2,
    changed: 'nothing',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.verify-json-markdown',
    group: 'command-line',
    title: 'Conflicting flags: `--json` with `--markdown`',
    did: 'Asked verification for both output formats.',
    entry: 'verify/index.ts',
    args: ['--json', '--markdown'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: '--json and --markdown cannot be used together',
    hint: 'run: npx zx verify/index.ts --json, or --markdown',
    exit: 2,
    changed: 'nothing',
    json: false,
    note: 'the case already holds --json; the report printed on stdout carries the same finding.',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.lock-timeout-value',
    group: 'command-line',
    title: '`--lock-timeout` that is not a number',
    did: 'Typed `--lock-timeout 2s`.',
    entry: 'upgrade.ts',
    args: ['--yes', '--lock-timeout', '2s'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: '--lock-timeout must be a whole number of milliseconds above 0, got "2s"',
    hint: 'run: npx zx upgrade.ts --help',
    exit: 2,
    changed: 'nothing',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.extra-argument',
    group: 'command-line',
    title: 'An argument the command does not take',
    did: 'Typed `npx zx upgrade.ts now`.',
    entry: 'upgrade.ts',
    args: ['now'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: 'unexpected argument "now"',
    hint: 'run: npx zx upgrade.ts --help',
    exit: 2,
    changed: 'nothing',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.restore-no-file',
    group: 'command-line',
    title: 'Restore without a file',
    did: 'Ran the restore without naming the backup.',
    entry: 'scripts/restore.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: 'missing FILE',
    hint: 'run: npx zx scripts/restore.ts --help',
    exit: 2,
    changed: 'nothing',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.mark-no-terminal',
    group: 'command-line',
    title: 'Marking a ledger entry without a terminal and without `--yes`',
    did: 'Ran `mark.ts` from a script, where nobody can confirm.',
    entry: 'scripts/mark.ts',
    args: ['0002_audit_logs'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message:
      'mark would record drizzle entry 0002_audit_logs as applied in the ledger ' +
      'of {database} (nothing is run), and there is no terminal to confirm it',
    hint: 'run it again with --yes once you are sure',
    exit: 2,
    changed: 'nothing',
    test: 'failures-cli.test.ts',
  },
  {
    id: 'cli.mark-unknown-entry',
    group: 'command-line',
    title: 'Marking an entry that does not exist',
    did: 'Typed a drizzle tag that is not in the journal.',
    entry: 'scripts/mark.ts',
    args: ['0002_audit_log', '--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: 'no drizzle entry or legacy file is called "0002_audit_log"',
    hint:
      'entries: 0000_init, 0001_api_keys, 0002_audit_logs, 0003_integration_status_enum, upgrade.sql, ' +
      'feature-flags-migration.sql, rbac-permissions-fix.sql, email-case-insensitive-fix.sql, discovery-migration.sql',
    exit: 2,
    changed: 'nothing',
    test: 'failures-cli.test.ts',
  },
];

export const CASES: readonly FailureCase[] = [
  ...configuration,
  ...connectionValues,
  ...connection,
  ...server,
  ...tools,
  ...migrations,
  ...data,
  ...concurrency,
  ...interruption,
  ...commandLine,
  ...restore,
  // The hardening cases, one file per class of hostile input (test/failures/hardening/).
  ...logsCases,
  ...backupsCases,
  ...restoreCases,
  ...schemaCases,
  ...refusalsCases,
  ...outputCases,
  ...rollbackCases,
  ...installCases,
  ...verifyCases,
  ...secretsCases,
  ...profilesCases,
  ...lintCases,
  ...shadowCases,
  ...statusesCases,
  ...appfitCases,
  ...reviewCases,
  ...startupCases,
  ...startupSpeedCases,
  ...repeatableCases,
  ...targetsCases,
  ...launchCases,
  ...nodeCases,
  ...demoCases,
  ...backupspeedCases,
  ...restoreSpeedCases,
];
