// Hardening cases: signals (a terminal or SSH session that hangs up), output nobody reads any
// more, hints that must paste, redaction that keeps names usable, and verify beside a
// running upgrade. See test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const outputCases: FailureCase[] = [
  {
    id: 'out.sighup-backup',
    group: 'output',
    title: 'SSH session dropped during the backup (SIGHUP)',
    did:
      'The SSH session running the upgrade dropped while pg_dump ran (the test holds ' +
      'pg_dump on a table lock and sends SIGHUP, as the terminal does when it hangs up).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'interrupted',
    message:
      'interrupted by SIGHUP during the backup; the partial backup file was ' +
      'removed and nothing was changed; upkit.runs records the run as interrupted',
    hint: 'run the upgrade again when ready',
    exit: 130,
    changed:
      "nothing in Pulse's schema, data or ledgers; upkit.runs records the run " +
      'as interrupted; no backup file or .partial is left and pg_dump was ended',
    test: 'failures-output-signals.test.ts',
    note:
      'SIGHUP is handled as SIGTERM by every command: the run stops as on Ctrl-C, ' +
      'and any pg_dump, pg_restore, psql or docker compose upkit started is ended with it.',
  },
  {
    id: 'out.sighup-restore',
    group: 'output',
    title: 'SSH session dropped while pg_restore ran (SIGHUP)',
    did:
      'The SSH session running an in-place restore dropped while pg_restore ' +
      'wrote the new database (the test pauses pg_restore, then sends SIGHUP).',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'interrupted',
    step: 'pg_restore → {restored}',
    message: 'interrupted by SIGHUP',
    hint: null,
    exit: 130,
    changed:
      'nothing: the live database is untouched, the database being restored into was dropped, and pg_restore was ended',
    test: 'failures-output-signals.test.ts',
  },
  {
    id: 'out.both-closed',
    group: 'output',
    title: 'Output piped into `head -1`',
    did:
      'Ran `npx zx upgrade.ts --yes 2>&1 | head -1`: the reader of both stdout and ' +
      'stderr exits after the first line, so every later write fails with EPIPE.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    json: false,
    severity: 'warning',
    code: 'output.closed',
    message: 'stderr was closed (EPIPE); the run went on and the log file has all of its output',
    hint: 'read it with: cat {log}',
    exit: 0,
    changed:
      'the upgrade ran to the end (v2.2 → v2.3, backup taken); upkit.runs records it ok; ' +
      'the line and the hint are in the log file, which has every line',
    test: 'failures-output-closed.test.ts',
    note:
      'Exit 0 is the exit status of upkit itself (PIPESTATUS in bash). Before, ' +
      'the first failed write ended the process with exit 1 and left the run `running`.',
  },
  {
    id: 'out.stderr-closed',
    group: 'output',
    title: 'stderr into a pipe that closes, --json into a file',
    did:
      'Ran `npx zx upgrade.ts --yes --json > report.json 2> >(head -1)`: ' +
      "stderr's reader exits after the first line.",
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    severity: 'warning',
    code: 'output.closed',
    message: 'stderr was closed (EPIPE); the run went on and the log file has all of its output',
    hint: 'read it with: cat {log}',
    exit: 0,
    changed:
      'the upgrade ran to the end (v2.2 → v2.3); upkit.runs records it ok ' +
      'with this warning among its findings; the --json report has it too',
    test: 'failures-output-closed.test.ts',
  },
  {
    id: 'out.stdout-closed',
    group: 'output',
    title: '--json into a pipe whose reader has gone',
    did:
      'Ran `npx zx upgrade.ts --yes --json | some-tool` where the tool ' +
      'exited before reading: the report cannot be written (EPIPE).',
    entry: 'upgrade.ts',
    args: ['--yes', '--json'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    json: false,
    severity: 'warning',
    code: 'output.closed',
    message: 'stdout was closed (EPIPE); the run went on and the log file has all of its output',
    hint: 'read it with: cat {log}',
    exit: 0,
    changed:
      'the upgrade ran to the end (v2.2 → v2.3); upkit.runs records it ok; ' +
      'the log file holds the report that stdout could not take',
    test: 'failures-output-closed.test.ts',
  },
  {
    id: 'out.verify-running',
    group: 'output',
    title: '`verify` while an upgrade runs',
    did:
      'Ran verify while an upgrade was applying 0003 (the test holds ' +
      'the upgrade on a lock the application keeps on aws_integrations).',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.run_in_progress',
    message:
      'an upkit upgrade is running on {database} (run {runId}, pid {runPid} on {runHost}, ' +
      "started {time}, holding upkit's lock in server process {backendPid}): " +
      'what verify lists as pending or half-done is its work in progress',
    hint: 'wait for it to finish (npx zx scripts/status.ts shows it), then run: npx zx verify/index.ts',
    exit: 5,
    changed: 'nothing (verify reads in one read-only transaction); the upgrade it found goes on and finishes',
    test: 'failures-output-verify.test.ts',
    note:
      'The rest of the report is printed as usual (the pending migration ' +
      'among its findings): exit 5 says to read it again once the run is over.',
  },
  {
    id: 'out.paste-go-back',
    group: 'output',
    title:
      'A migration fails: the "to go back" line pasted, with a BACKUP_DIR ' +
      'holding a space and a quote, and a password that is also part of the names',
    did:
      "Upgraded with BACKUP_DIR `…/pulse backups/ops' copies`, user `pulse_admin_…`, database `pulse_…` and the " +
      'password `pulse`; a later migration failed, and the operator pasted the `to go back` command into bash.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{drizzle}'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'drizzle.failed',
    message: '0005_fails.sql: ERROR 22012: division by zero (rolled back; the database now stands after 0004_marker)',
    hint: 'fix what the error names, then run the upgrade again; to go back: npx zx scripts/restore.ts {quoted}',
    exit: 1,
    changed:
      '0004 applied, 0005 rolled back; the pasted command (with --yes) ' +
      'restored the backup in place: the database is at v2.3 again, and the names and paths in stderr, ' +
      'the log and --json are whole (only the password in a URL is masked)',
    test: 'failures-output-hints.test.ts',
    note:
      'The path is quoted for the shell (in double quotes here, as it holds a single quote). Redaction masks ' +
      'the password where it is one (connection URLs, PASSWORD= assignments, pass-file lines, JSON keys) ' +
      'and a registered password elsewhere, but never inside the database, user, host or the paths upkit was given.',
  },
  {
    id: 'out.paste-alter-database',
    group: 'output',
    title: 'Database refusing connections, with a name that needs quotes',
    did:
      'Ran status on a database named `Pulse "prod"-ü db …` whose ALLOW_CONNECTIONS ' +
      'an administrator turned off, then pasted the hint into bash.',
    entry: 'scripts/status.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'database.refuses_connections',
    message:
      'database {database} refuses connections (ALLOW_CONNECTIONS is off), ' +
      "and no restore of upkit's was stopped in its swap",
    hint: 'if nobody turned it off on purpose, turn it on: {command}',
    exit: 3,
    changed: 'nothing; the pasted psql command turned connections on and status then connected',
    test: 'failures-output-hints.test.ts',
    note:
      'upkit reads the server from the maintenance database to tell this from a restore ' +
      'stopped in its swap; the psql command line is quoted for the shell and the name for SQL.',
  },
  {
    id: 'out.paste-grant',
    group: 'output',
    title: 'Role without CREATE, role and database names that need quotes',
    did:
      'Ran preflight as role `Ops "Admin" …` on database `Pulse "prod"-ü db …`, ' +
      'where it may not create anything, then pasted the GRANTs into psql as an administrator.',
    entry: 'scripts/preflight.ts',
    args: ['--no-backup'],
    env: { DATABASE_URL: '{url}' },
    code: 'preflight.privileges',
    step: 'privileges',
    message: 'role "{user}" lacks CREATE on database {database} and CREATE on schema public',
    hint:
      'run as an administrator: GRANT CREATE ON DATABASE {dbIdent} TO {userIdent}; ' +
      'GRANT CREATE ON SCHEMA public TO {userIdent}; (or connect as the database owner)',
    exit: 3,
    changed: 'nothing; the pasted GRANTs ran in psql and preflight then passed',
    test: 'failures-output-hints.test.ts',
  },
  {
    id: 'out.paste-alter-role',
    group: 'output',
    title: 'Restore by a role without CREATEDB, whose name needs quotes',
    did:
      'Ran restore --into as role `Ops "Admin" …`, which cannot create databases, ' +
      'then pasted the hint into psql as an administrator.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--into', '{into}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'restore.no_createdb',
    step: 'check {where}',
    message: 'role "{user}" cannot create databases, and a restore always restores into a new one',
    hint: 'as an administrator, run: ALTER ROLE {userIdent} CREATEDB; then run the restore again; nothing was changed',
    exit: 3,
    changed: 'nothing; the pasted statement ran in psql and the role may then create databases',
    test: 'failures-output-hints.test.ts',
  },
];
