// Hardening cases, part two: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

const ENV_KEPT = '`.env` byte for byte as it was (sha256 before and after), no ENCRYPTION_KEY written';

export const installCases: FailureCase[] = [
  {
    id: 'install.env-existing-install',
    group: 'install',
    title: 'Install on an existing install, with a `.env` that lacks a secret',
    did:
      'Ran install.ts where Pulse is installed already; its `.env` holds the ' +
      'database settings but no ENCRYPTION_KEY (the key lives elsewhere, or was lost).',
    entry: 'install.ts',
    args: ['--yes', '--no-containers'],
    dotenv: 'DATABASE_URL={url}\n',
    code: 'install.exists',
    message: '{database} already holds Pulse v2.3; install never changes an existing database',
    hint: 'to bring it to the latest release run: npx zx upgrade.ts --dry-run, then npx zx upgrade.ts',
    exit: 3,
    changed: `nothing; ${ENV_KEPT} (a fresh key appended before the refusal made every stored credential unreadable)`,
    test: 'failures-install.test.ts',
  },
  {
    id: 'install.env-compose-missing',
    group: 'install',
    title: 'Install with a COMPOSE_FILE that does not exist',
    did: 'Set COMPOSE_FILE to a file that is not there and ran install.ts.',
    entry: 'install.ts',
    args: ['--yes'],
    dotenv: 'DATABASE_URL={url}\nCOMPOSE_FILE=missing-compose.yml\n',
    code: 'config.invalid',
    message: 'COMPOSE_FILE: file {cwd}/missing-compose.yml does not exist',
    hint: 'fix COMPOSE_FILE in {cwd}/.env, then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: `nothing; ${ENV_KEPT}`,
    test: 'failures-install.test.ts',
  },
  {
    id: 'install.env-unreachable',
    group: 'install',
    title: 'Install while PostgreSQL does not answer',
    did: 'Ran install.ts with a `.env` naming a port nothing listens on.',
    entry: 'install.ts',
    args: ['--yes', '--no-containers'],
    dotenv: 'DATABASE_URL=postgres://{user}@127.0.0.1:{closedPort}/{database}\nDB_WAIT_TIMEOUT=1000\n',
    code: 'db.unreachable',
    message: 'cannot connect to PostgreSQL at 127.0.0.1:{closedPort}: connection refused, still after 1 s of waiting',
    hint: 'is the server running and listening there? check DATABASE_URL, then run: npx zx scripts/preflight.ts',
    exit: 3,
    changed: `nothing; ${ENV_KEPT}`,
    test: 'failures-install.test.ts',
  },
  {
    id: 'install.env-bad-setting',
    group: 'install',
    title: 'Install with a setting PostgreSQL would refuse',
    did: 'Ran install.ts with LOCK_TIMEOUT=99999999999 in `.env`.',
    entry: 'install.ts',
    args: ['--yes', '--no-containers'],
    dotenv: 'DATABASE_URL={url}\nLOCK_TIMEOUT=99999999999\n',
    code: 'config.invalid',
    message:
      'LOCK_TIMEOUT: must be a whole number of milliseconds from 1 to ' +
      '2147483647 (PostgreSQL\'s largest lock_timeout), got "99999999999"',
    hint: 'fix LOCK_TIMEOUT in {cwd}/.env, then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: `nothing; ${ENV_KEPT}`,
    test: 'failures-install.test.ts',
  },
  {
    id: 'install.env-key-in-environment',
    group: 'install',
    title: 'ENCRYPTION_KEY set in the environment, not in `.env`',
    did: 'Ran install.ts with ENCRYPTION_KEY exported in the shell and a `.env` without it.',
    entry: 'install.ts',
    args: ['--yes', '--no-containers'],
    dotenv: 'DATABASE_URL={url}\n',
    env: { ENCRYPTION_KEY: '{key}' },
    severity: 'warning',
    code: 'install.env_from_environment',
    message:
      'ENCRYPTION_KEY is set in the environment and not in {cwd}/.env: ' +
      'kept as it is, no other value was written to the file',
    hint: "if Pulse's containers read {cwd}/.env, copy ENCRYPTION_KEY into it yourself (the value in the environment)",
    exit: 0,
    changed:
      'the install; `.env` gains JWT_SECRET and SESSION_SECRET only (before: ' +
      'a second, different ENCRYPTION_KEY was appended to it)',
    test: 'failures-install.test.ts',
  },
  {
    id: 'config.lock-timeout-range',
    group: 'configuration',
    title: 'A timeout PostgreSQL would refuse',
    did: 'Set LOCK_TIMEOUT=99999999999 (more than PostgreSQL accepts for lock_timeout) and ran the upgrade.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    dotenv: 'DATABASE_URL={url}\nBACKUP_DIR={cwd}/backups\nLOCK_TIMEOUT=99999999999\n',
    code: 'config.invalid',
    message:
      'LOCK_TIMEOUT: must be a whole number of milliseconds from 1 to ' +
      '2147483647 (PostgreSQL\'s largest lock_timeout), got "99999999999"',
    hint: 'fix LOCK_TIMEOUT in {cwd}/.env, then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed:
      'nothing: no backup, no run recorded (before: the backup was taken, ' +
      'then PostgreSQL refused the value, exit 1, the run recorded refused)',
    test: 'failures-install-config.test.ts',
  },
  {
    id: 'config.statement-timeout-flag-range',
    group: 'configuration',
    title: '`--statement-timeout` beyond what PostgreSQL accepts',
    did: 'Ran the upgrade with --statement-timeout 99999999999.',
    entry: 'upgrade.ts',
    args: ['--yes', '--statement-timeout', '99999999999'],
    dotenv: 'DATABASE_URL={url}\nBACKUP_DIR={cwd}/backups\n',
    code: 'usage',
    message:
      '--statement-timeout must be a whole number of milliseconds from 1 to ' +
      '2147483647 (PostgreSQL\'s largest statement_timeout), got "99999999999"',
    hint: 'run: npx zx upgrade.ts --help',
    exit: 2,
    changed: 'nothing: no backup, no run recorded',
    test: 'failures-install-config.test.ts',
  },
  {
    id: 'config.lock-retries-range',
    group: 'configuration',
    title: 'More lock retries than the waits between them allow',
    did:
      'Set LOCK_RETRIES=40: the waits double from 250 ms, ' +
      'and the 25th is longer than Node can wait (it would fire at once).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    dotenv: 'DATABASE_URL={url}\nBACKUP_DIR={cwd}/backups\nLOCK_RETRIES=40\n',
    code: 'config.invalid',
    message:
      'LOCK_RETRIES: must be a whole number from 0 to 24 (the waits double ' +
      'from 250 ms; a 25th would exceed Node\'s largest timer), got "40"',
    hint: 'fix LOCK_RETRIES in {cwd}/.env, then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing: no backup, no run recorded',
    test: 'failures-install-config.test.ts',
  },
  {
    id: 'config.rehearse-no-createdb',
    group: 'configuration',
    title: '`--rehearse` by a role that may not create databases',
    did: "Ran upgrade.ts --rehearse as the database's owner, a role without CREATEDB.",
    entry: 'upgrade.ts',
    args: ['--yes', '--rehearse'],
    dotenv: 'DATABASE_URL={roleUrl}\nBACKUP_DIR={cwd}/backups\n',
    code: 'rehearse.createdb',
    message:
      '--rehearse restores the backup into a scratch database, and role "{role}" may ' +
      'not create databases (no CREATEDB); nothing was changed, no backup was taken',
    hint:
      'have an administrator run: ALTER ROLE "{role}" CREATEDB; ' +
      'then run npx zx upgrade.ts --rehearse again (or run it without --rehearse)',
    exit: 3,
    changed: 'nothing: no backup, no run recorded (before: the backup was taken, then the rehearsal was refused)',
    test: 'failures-install-config.test.ts',
  },
  {
    id: 'config.url-and-parts',
    group: 'configuration',
    title: '`DATABASE_URL` and `DB_*` both set, and disagreeing',
    did: 'Left DB_NAME (from an older `.env`) beside a DATABASE_URL naming another database.',
    entry: 'upgrade.ts',
    args: ['--dry-run'],
    dotenv: 'DATABASE_URL={url}\nDB_NAME=pulse_old\n',
    severity: 'warning',
    code: 'config.url_and_parts',
    message:
      'DATABASE_URL and DB_NAME are both set and disagree: ' +
      'DATABASE_URL wins ({user}@{host}:{port}/{database}), DB_NAME is not used',
    hint:
      'remove DB_NAME from .env or the environment (or make it match ' +
      'DATABASE_URL) so that every program reads the same database',
    exit: 0,
    changed: 'nothing (a dry run)',
    test: 'failures-install-config.test.ts',
  },
  {
    id: 'config.direct-url-other-database',
    group: 'configuration',
    title: '`DIRECT_URL` naming another database than `DATABASE_URL`',
    did:
      'Set DIRECT_URL (for migrations, bypassing the pooler) to another database of the same ' +
      'server than DATABASE_URL: the upgrade would migrate one and health check the other.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    dotenv: 'DATABASE_URL={url}\nDIRECT_URL={otherUrl}\nBACKUP_DIR={cwd}/backups\n',
    code: 'config.direct-url-mismatch',
    message:
      'DIRECT_URL ({host}:{port}/postgres) and DATABASE_URL ({host}:{port}/{database}) ' +
      'reach different databases of one server: migrations would run on one database and Pulse would use another',
    hint:
      'make DIRECT_URL and DATABASE_URL name the same database, or, if they differ on purpose, ' +
      'set DIRECT_URL_DIFFERENT_DATABASE=1; then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing: no backup, no run recorded',
    note:
      "upkit connects to both and compares what they reach (the server's system identifier and start time, " +
      'the database and its oid), before any command reads or writes anything else. Before, only the names were ' +
      'compared: the same name on another server passed, ' +
      "and a pooler's alias that names the same database otherwise was refused.",
    test: 'failures-direct-url.test.ts',
  },
  {
    id: 'config.direct-url-other-server',
    group: 'configuration',
    title: '`DIRECT_URL` naming a database of the same name on another server',
    did:
      'Set DIRECT_URL to another PostgreSQL server (another port) ' +
      'that holds a database of the same name as the one DATABASE_URL names.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    dotenv: 'DATABASE_URL={url}\nDIRECT_URL={otherUrl}\nBACKUP_DIR={cwd}/backups\n',
    code: 'config.direct-url-mismatch',
    message:
      'DIRECT_URL ({otherHost}:{otherPort}/{database}) and DATABASE_URL ({host}:{port}/{database}) ' +
      'reach different servers: migrations would run on one database and Pulse would use another',
    hint:
      'make DIRECT_URL and DATABASE_URL name the same database, or, if they differ on purpose, ' +
      'set DIRECT_URL_DIFFERENT_DATABASE=1; then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing on either server: no backup, no run recorded',
    note:
      "Before, the names matched and the upgrade migrated the other server's database. A standby or a copy " +
      'of the cluster (same system identifier, another postmaster) is told apart by the start time; ' +
      "the same database reached through 127.0.0.1, a socket directory or a pooler's alias passes without any flag.",
    test: 'failures-direct-url.test.ts',
  },
  {
    id: 'config.direct-url-different-on-purpose',
    group: 'configuration',
    title: '`DIRECT_URL` naming another database, stated on purpose',
    did:
      'Set DIRECT_URL to another database than DATABASE_URL ' +
      'and DIRECT_URL_DIFFERENT_DATABASE=1, then ran a dry run.',
    entry: 'upgrade.ts',
    args: ['--dry-run'],
    dotenv: 'DATABASE_URL={url}\nDIRECT_URL={otherUrl}\nDIRECT_URL_DIFFERENT_DATABASE=1\n',
    severity: 'warning',
    code: 'config.direct-url-different',
    message:
      'DIRECT_URL ({host}:{port}/postgres) and DATABASE_URL ({host}:{port}/{database}) ' +
      'reach different databases of one server: migrations would run on one database and Pulse would use another',
    hint: 'DIRECT_URL_DIFFERENT_DATABASE=1 says this is on purpose; remove it once both name the same database',
    exit: 0,
    changed: 'nothing (a dry run)',
    note: 'The statement is honoured, never silently: every run says it again, and --json carries it as a warning.',
    test: 'failures-direct-url.test.ts',
  },
  {
    id: 'config.direct-url-unreachable',
    group: 'configuration',
    title: '`DIRECT_URL` that cannot be connected to',
    did: 'Set DIRECT_URL to a port where no PostgreSQL listens while DATABASE_URL is fine, and ran a dry run.',
    entry: 'upgrade.ts',
    args: ['--dry-run'],
    dotenv: 'DATABASE_URL={url}\nDIRECT_URL={closedUrl}\n',
    code: 'db.unreachable',
    message: 'cannot connect to PostgreSQL at {host}:{closedPort}: connection refused',
    hint: 'is the server running and listening there? check DIRECT_URL, then run: npx zx scripts/preflight.ts',
    exit: 3,
    changed: 'nothing',
    test: 'failures-direct-url.test.ts',
  },
  {
    id: 'config.direct-url-unverifiable',
    group: 'configuration',
    title: '`DATABASE_URL` out of reach and naming another database than `DIRECT_URL`',
    did:
      'Set DATABASE_URL to a server upkit cannot reach from where it runs (a pooler ' +
      "on the containers' network) with another database name than DIRECT_URL.",
    entry: 'upgrade.ts',
    args: ['--yes'],
    dotenv: 'DATABASE_URL={closedUrl}\nDIRECT_URL={url}\nBACKUP_DIR={cwd}/backups\n',
    code: 'config.direct-url-mismatch',
    message:
      'DIRECT_URL ({host}:{port}/{database}) and DATABASE_URL ({host}:{closedPort}/elsewhere) ' +
      'name different databases, and DATABASE_URL cannot be connected to from here to show ' +
      'they are one (cannot connect to PostgreSQL at {host}:{closedPort}: connection refused)',
    hint:
      'make DIRECT_URL and DATABASE_URL name the same database, or, if they differ on purpose, ' +
      'set DIRECT_URL_DIFFERENT_DATABASE=1; then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing: no backup, no run recorded',
    note:
      'Only the names are left to compare: names that agree pass with ' +
      'a warning (config.direct-url-unchecked) that nothing was proven.',
    test: 'failures-direct-url.test.ts',
  },
  {
    id: 'install.direct-url-other-database',
    group: 'install',
    title: 'Install with `DIRECT_URL` naming another database than `DATABASE_URL`',
    did: 'Ran install.ts with a `.env` whose DIRECT_URL names another database of the server than DATABASE_URL.',
    entry: 'install.ts',
    args: ['--yes', '--no-containers'],
    dotenv: 'DATABASE_URL={url}\nDIRECT_URL={otherUrl}\n',
    code: 'config.direct-url-mismatch',
    message:
      'DIRECT_URL ({host}:{port}/postgres) and DATABASE_URL ({host}:{port}/{database}) ' +
      'reach different databases of one server: migrations would run on one database and Pulse would use another',
    hint:
      'make DIRECT_URL and DATABASE_URL name the same database, or, if they differ on purpose, ' +
      'set DIRECT_URL_DIFFERENT_DATABASE=1; then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: `nothing in either database; ${ENV_KEPT}`,
    note:
      'Install checks it once the database DIRECT_URL names exists (install creates it, ' +
      'empty, when it does not) and before anything is written in it or in `.env`.',
    test: 'failures-direct-url.test.ts',
  },
  {
    id: 'config.rehearsal-leftover',
    group: 'configuration',
    title: 'Scratch database of a rehearsal that was killed',
    did:
      'A rehearsal was killed with kill -9; its scratch database stayed. The next upgrade drops ' +
      "the one its marker proves upkit's (this server and database, a process of this host that " +
      'no longer runs); one it cannot prove (no marker) is named with the command that drops it.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    severity: 'warning',
    code: 'rehearse.leftover',
    message:
      '{unproven} looks like the scratch database of a stopped rehearsal: upkit cannot prove ' +
      'it made it on this host for this server (no marker, another host, or sessions in it)',
    hint:
      `if nothing uses it, drop it: psql -h {host} -p {port} -U {user} -d postgres ` +
      `-v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS "{unproven}" WITH (FORCE)'`,
    exit: 0,
    changed: 'the proven scratch database is dropped (before: both stayed forever); the unproven one is left',
    note:
      'The test makes the state a kill -9 leaves: a scratch database ' +
      'marked as a rehearsal marks it, by a pid that no longer runs.',
    test: 'failures-install-config.test.ts',
  },
  {
    id: 'rehearse.killed',
    group: 'concurrency',
    title: '`upgrade.ts --rehearse` killed with kill -9 while its scratch database exists',
    did:
      'Killed upgrade.ts --yes --rehearse (its process group, pg_restore included) ' +
      'with kill -9: once right after CREATE DATABASE, before the scratch database had its marker, ' +
      'once during pg_restore. Then ran status.ts, then the upgrade again.',
    entry: 'scripts/status.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    severity: 'warning',
    code: 'rehearse.leftover',
    message:
      '{scratch} is the scratch database of a rehearsal that was stopped ' +
      '(pid {pid} on {machine} no longer runs): the next upgrade drops it',
    hint:
      `to drop it now: psql -h {host} -p {port} -U {user} -d postgres -v ` +
      `ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'`,
    exit: 0,
    changed:
      'nothing in the live database (schema, rows, both ledgers as the killed run found them; ' +
      'upkit.runs holds its row, marked crashed by the next run); the next upgrade drops ' +
      'the scratch database, and leaves a database named like one that upkit did not make',
    note:
      "A rehearsal names its scratch database in its run's row of upkit.runs before CREATE DATABASE, " +
      'and marks the database (COMMENT ON DATABASE) right after: a kill between the two leaves a ' +
      "database proven upkit's by the row. Before, such a database had no marker and stayed forever; " +
      "upkit's own sessions still ending in it (the killed pg_restore's) made a marked one look in use. " +
      "The test holds the run at each point with a lock on the server's catalogue, not with a sleep.",
    test: 'failures-rehearse-kill.test.ts',
  },
];
