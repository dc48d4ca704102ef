// Hardening cases (issue 12): see test/failures/catalogue.ts for what a case is.
// Backup files: whose they are (retention, partial files), their names and modes.
import type { FailureCase } from '../types.ts';

const BACKUP = 'scripts/backup.ts';
const TEST = 'failures-backups.test.ts';

export const backupsCases: FailureCase[] = [
  {
    id: 'backups.other-server',
    group: 'backups',
    title: "Two servers' databases of the same name share a BACKUP_DIR",
    did:
      'Backed up a database `pulse` on one server, then the database `pulse` of another server ' +
      'into the same BACKUP_DIR with BACKUP_KEEP=1 (the test starts a second PostgreSQL cluster).',
    entry: BACKUP,
    args: [],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}', BACKUP_KEEP: '1' },
    severity: 'warning',
    code: 'backup.other_server',
    message:
      'kept 1 backup of a database named {database} that another server wrote ({otherHost}:{otherPort}, ' +
      "system identifier {otherId}): retention removes only this server's backups",
    hint: 'give each server its own BACKUP_DIR (or --backup-dir) to keep their backups apart',
    exit: 0,
    changed: "nothing in either database; each server's newest backup is kept",
    note:
      "a backup is this server's when its manifest records the same `system_identifier` (pg_control_system()), " +
      'host and port, and the same database name; anything else is never deleted.',
    test: TEST,
  },
  {
    id: 'backups.unproven',
    group: 'backups',
    title: 'A backup whose manifest does not name its server',
    did:
      'Took a backup with BACKUP_KEEP=1 beside one whose manifest an older upkit wrote, ' +
      "without the server's identity (the test removes `systemIdentifier` from a manifest).",
    entry: BACKUP,
    args: [],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}', BACKUP_KEEP: '1' },
    severity: 'warning',
    code: 'backup.unproven',
    message:
      'kept 1 backup of {database} whose manifest does not say which server it came from ' +
      "(written by an older upkit): retention removes only backups it can prove are this server's",
    hint: 'remove them by hand when they are no longer needed: rm -- {files}',
    exit: 0,
    changed: 'nothing in the database; the older backup and its manifest are kept',
    test: TEST,
  },
  {
    id: 'backups.server-unknown',
    group: 'backups',
    title: "A role that may not read the server's identity",
    did:
      'Took a second backup with BACKUP_KEEP=1 as a role for which `pg_control_system()` is revoked ' +
      '(the test revokes it in that database), so no manifest can prove which server it came from.',
    entry: BACKUP,
    args: [],
    env: {
      DB_HOST: '{host}',
      DB_PORT: '{port}',
      DB_USER: '{user}',
      DB_PASSWORD: '{password}',
      DB_NAME: '{database}',
      BACKUP_DIR: '{dir}',
      BACKUP_KEEP: '1',
    },
    severity: 'warning',
    code: 'backup.server_unknown',
    message:
      "kept 1 older backup of {database}: this role cannot read the server's system identifier " +
      "(pg_control_system()), and retention removes only backups it can prove are this server's",
    hint:
      'let it read the identity (as an administrator, in this database: GRANT EXECUTE ON FUNCTION ' +
      'pg_control_system() TO {quotedUser};) or remove them by hand when they are no longer needed: rm -- {files}',
    exit: 0,
    changed: 'nothing in the database; the older backup is kept',
    test: TEST,
  },
  {
    id: 'backups.partial-other-namespace',
    group: 'backups',
    title: 'A backup being written from another container or machine',
    did:
      'Took a backup while another one, started in another PID namespace (a container, ' +
      'another machine), was writing its partial file into the same BACKUP_DIR (the test runs the ' +
      'first backup under `unshare --pid`, its pid unknown here, held by a table lock; root).',
    entry: BACKUP,
    args: [],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}' },
    severity: 'warning',
    code: 'backup.partial_live',
    message:
      'left {partial} alone: another backup may still be writing ' +
      'it (host {host}, pid {pid}, last written {seconds} s ago)',
    hint:
      'nothing to do: its writer renames or removes it; ' +
      'left untouched for 30 min, it is removed by the next backup',
    exit: 0,
    changed: 'nothing; the other backup finishes and is verified',
    note:
      'a writer touches its partial file every 10 s. Its pid is asked about only on the machine ' +
      'and in the PID namespace that wrote it (the file name carries the host and a hash of the ' +
      'boot id and PID namespace): there, a partial file whose writer has ended is removed at once.',
    test: TEST,
  },
  {
    id: 'backups.partial-silent',
    group: 'backups',
    title: 'A partial file nobody has written to for a long time',
    did:
      'Took a backup where an interrupted backup of another machine left a ' +
      'partial file two hours ago, named after a pid that happens to be alive here.',
    entry: BACKUP,
    args: [],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}' },
    severity: 'warning',
    code: 'backup.partial_removed',
    message: 'removed {partial}, left by an interrupted backup (untouched for {minutes} min)',
    hint: 'nothing to do: it was never a verified backup',
    exit: 0,
    changed: 'nothing in the database; the stale partial file is removed',
    test: TEST,
  },
  {
    id: 'backups.dir-shared',
    group: 'backups',
    title: 'BACKUP_DIR is a shared folder (mode 1777, like /dev/shm)',
    did: 'Set BACKUP_DIR to a folder every user may write, with the sticky bit (a tmpfs mount point such as /dev/shm).',
    entry: BACKUP,
    args: [],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}' },
    severity: 'warning',
    code: 'backup.dir_shared',
    message:
      '{dir} is shared with other users (mode 1777): ' +
      'upkit leaves its mode as it is; its own files in it are private (0600)',
    hint:
      "to keep even the backups' names private, set BACKUP_DIR (or --backup-dir) " +
      "to a directory of this user's own; upkit creates a missing one with mode 0700",
    exit: 0,
    changed: 'nothing; the folder keeps mode 1777, the backup and its manifest are 0600',
    test: TEST,
  },
  {
    id: 'backups.dir-writable',
    group: 'backups',
    title: 'BACKUP_DIR can be written by everyone (mode 0777)',
    did: 'Set BACKUP_DIR to a folder with mode 0777 and no sticky bit, whose name holds spaces.',
    entry: BACKUP,
    args: [],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}' },
    severity: 'warning',
    code: 'backup.dir_writable',
    message:
      '{dir} can be written by other users (mode 0777), ' +
      'who can delete or replace backups in it; upkit leaves its mode as it is',
    hint: 'make it private with: chmod 700 {quotedDir}',
    exit: 0,
    changed: 'nothing; the folder keeps mode 0777, the backup and its manifest are 0600',
    test: TEST,
  },
  {
    id: 'backups.toc-missing-odd-name',
    group: 'backups',
    title: 'The archive lacks a table whose names hold spaces and quotes',
    did:
      'Backed up a database whose tables, schemas and owner role have spaces, quotes and semicolons in their names, ' +
      "with a pg_dump that left one table's rows out (the test wraps pg_dump with `--exclude-table-data`).",
    entry: BACKUP,
    args: [],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}', UPKIT_PG_BINDIR: '{bindir}' },
    code: 'backup.unverified',
    message: 'the archive\'s table of contents lacks 1 table: "odd schema"."the ""t"" table"',
    hint: 'the dump is incomplete; nothing was changed. Run the backup again and check the log file',
    exit: 3,
    changed: 'nothing; no backup file is left',
    note:
      'pg_restore --list prints names unquoted and separated by spaces; upkit matches ' +
      "each line whole against the table's schema, name and owner, so a table is never taken " +
      'for missing because of its name, and the one missing is named as SQL writes it.',
    test: TEST,
  },
  {
    id: 'backups.env-readable',
    group: 'backups',
    title: 'install adds secrets to a `.env` other users can read',
    did:
      'Ran the install with an existing `.env` of mode 0644 that ' +
      'holds DATABASE_URL and none of the application secrets.',
    entry: 'install.ts',
    args: ['--yes', '--no-containers'],
    dotenv: 'DATABASE_URL={url}\n',
    severity: 'warning',
    code: 'install.env_made_private',
    message: '{env} could be read by other users (mode 0644): made it 0600 before adding secrets to it',
    hint:
      'the new secrets were never readable by others; ' +
      'change the values that were already in it if other users can log in here',
    exit: 0,
    changed: 'the install itself; `.env` is 0600 and holds the new secrets',
    test: TEST,
  },
];
