// Hardening cases: the in-place restore's swap, what a stopped restore leaves, and rollback.
// See test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

const PSQL = 'psql -h {host} -p {port} -U {user} -d postgres -v ON_ERROR_STOP=1';

export const restoreCases: FailureCase[] = [
  {
    id: 'restore.swap-blocked',
    group: 'restore',
    title: 'In-place restore while a transaction holds a lock on the database',
    did:
      "Restored in place while a DBA's open transaction, " +
      'connected to another database, had run COMMENT ON DATABASE on it.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'swap {restored} → {database}',
    code: 'restore.swap_busy',
    message:
      'the swap gave way 5 times within 1000 ms each; pid {pid} ({user}, dba psql) ' +
      'holds ShareUpdateExclusiveLock on database {database} for {seconds} s, ' +
      "idle in transaction: COMMENT ON DATABASE {database} IS 'maintenance'",
    hint:
      `wait for that work to end, or stop it with: ${PSQL} -c 'SELECT pg_terminate_backend({pid})', ` +
      `then run the restore again; {restored} was dropped and {database} was not changed`,
    exit: 3,
    changed:
      'nothing: the live database kept accepting connections throughout (they were ' +
      'never turned off), the restored copy was dropped; where upkit.runs exists it ' +
      'records the restore as refused (it records itself before it creates the copy)',
    note:
      'before, the swap turned connections off and waited for the lock as long as the ' +
      'transaction lasted, then reported success with the whole wait as its "swap window".',
    test: 'failures-restore-swap.test.ts',
  },
  {
    id: 'restore.swap-row-locked',
    group: 'restore',
    title: "In-place restore during another admin's uncommitted ALTER DATABASE",
    did:
      'Restored in place while another administrator had run ALTER ' +
      'DATABASE … CONNECTION LIMIT in a transaction that was still open.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'swap {restored} → {database}',
    code: 'restore.swap_busy',
    message:
      'the swap gave way 5 times within 1000 ms each; pid {pid} ({user}, other admin) changed database {database} ' +
      'and has not committed for {seconds} s, idle in transaction: ALTER DATABASE {database} CONNECTION LIMIT 50',
    hint:
      `wait for that work to end, or stop it with: ${PSQL} -c 'SELECT pg_terminate_backend({pid})', ` +
      `then run the restore again; {restored} was dropped and {database} was not changed`,
    exit: 3,
    changed:
      'nothing (the live database accepts connections; the copy was dropped; ' +
      'upkit.runs, where it exists, records the restore as refused)',
    test: 'failures-restore-swap.test.ts',
  },
  {
    id: 'restore.prepared-transaction',
    group: 'restore',
    title: 'In-place restore of a database with a prepared transaction',
    did: 'Restored in place a database in which a two-phase transaction had been prepared and never finished.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check {host}:{port}',
    code: 'restore.prepared_transactions',
    message:
      "database {database} has 1 prepared transaction ('{gid}' of {user}, " +
      'prepared {time}): the swap cannot rename it while they last',
    hint:
      `have their owner finish them, or roll them back: psql -h {host} -p {port} -U {user} -d {database} ` +
      `-v ON_ERROR_STOP=1 -c "ROLLBACK PREPARED '{gid}'"; then run the restore again; nothing was changed`,
    exit: 3,
    changed: 'nothing (checked before the copy is created)',
    note: 'before, the whole backup was restored and the swap then failed with exit 1 after turning connections off.',
    test: 'failures-restore-swap.test.ts',
  },
  {
    id: 'restore.other-database',
    group: 'restore',
    title: "In-place restore of another database's backup",
    did: 'Restored in place a backup taken from another database (a staging copy), with --yes.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check {host}:{port}',
    code: 'restore.other_database',
    message:
      'this backup was taken from database {source}, not {database}: ' +
      "in place, it would replace {database} with another database's data",
    hint:
      'if that is what you want, add --from-other-database: npx zx scripts/restore.ts {file} --yes ' +
      '--from-other-database; to look at it first, restore it beside with --into NAME; nothing was changed',
    exit: 3,
    changed: 'nothing',
    note: 'before, a warning was printed and the database was replaced.',
    test: 'failures-restore-swap.test.ts',
  },
  {
    id: 'restore.disk-space',
    group: 'restore',
    title: 'In-place restore where the copy does not fit',
    did:
      'Restored in place a database whose tablespace has less room ' +
      'left than the database takes (a small tmpfs tablespace; root).',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check {host}:{port}',
    code: 'restore.disk_space',
    message:
      'only {size} free in tablespace {tablespace} ({dir}); ' +
      'the copy restored beside {database} needs about {size} (the size of {database})',
    hint: 'free some space there, or restore into another server; nothing was changed',
    exit: 3,
    changed: 'nothing (no copy is created)',
    note:
      "read with pg_database_size and the free space of the tablespace's directory, " +
      'where the server runs on this machine; elsewhere the restore says it cannot know.',
    test: 'failures-restore-swap.test.ts',
  },
  {
    id: 'status.interrupted-swap',
    group: 'restore',
    title: 'status after a restore was killed during its swap',
    did:
      'Ran status after an in-place restore was killed (kill -9) ' +
      'while the live database refused connections for the swap.',
    entry: 'scripts/status.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'restore.interrupted_swap',
    message:
      'database {database} refuses connections: an in-place restore (pid {pid} on {hostname}, ' +
      'started {time}) was stopped during its swap, before anything was renamed',
    hint: 'put it back as it was (connections on, the copy {restored} dropped): npx zx scripts/restore.ts --recover',
    exit: 3,
    changed: 'nothing (status reads the server from the maintenance database)',
    note:
      "the test leaves the server as such a kill does (the copy with the restore's marker, " +
      "the live database's connections off); the crash campaign kills real restores.",
    test: 'failures-restore-leftovers.test.ts',
  },
  {
    id: 'upgrade.interrupted-swap',
    group: 'restore',
    title: 'upgrade after a restore was killed during its swap',
    did: 'Ran the upgrade after an in-place restore was killed while the live database refused connections.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'restore.interrupted_swap',
    message:
      'database {database} refuses connections: an in-place restore (pid {pid} on {hostname}, ' +
      'started {time}) was stopped during its swap, before anything was renamed',
    hint: 'put it back as it was (connections on, the copy {restored} dropped): npx zx scripts/restore.ts --recover',
    exit: 3,
    changed: 'nothing',
    test: 'failures-restore-leftovers.test.ts',
  },
  {
    id: 'preflight.interrupted-swap',
    group: 'restore',
    title: 'preflight after a restore was killed during its swap',
    did: 'Ran preflight after an in-place restore was killed while the live database refused connections.',
    entry: 'scripts/preflight.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    step: 'interrupted restore',
    code: 'restore.interrupted_swap',
    message:
      'database {database} refuses connections: an in-place restore (pid {pid} on {hostname}, ' +
      'started {time}) was stopped during its swap, before anything was renamed',
    hint: 'put it back as it was (connections on, the copy {restored} dropped): npx zx scripts/restore.ts --recover',
    exit: 3,
    changed: 'nothing',
    note: 'the connection check above it fails too (the database refuses connections); this line says why.',
    test: 'failures-restore-leftovers.test.ts',
  },
  {
    id: 'restore.interrupted-swap',
    group: 'restore',
    title: 'restore after a restore was killed during its swap',
    did: 'Ran the restore again after an in-place restore was killed while the live database refused connections.',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check {host}:{port}',
    code: 'restore.interrupted_swap',
    message:
      'database {database} refuses connections: an in-place restore (pid {pid} on {hostname}, ' +
      'started {time}) was stopped during its swap, before anything was renamed',
    hint: 'put it back as it was (connections on, the copy {restored} dropped): npx zx scripts/restore.ts --recover',
    exit: 3,
    changed: 'nothing',
    test: 'failures-restore-leftovers.test.ts',
  },
  {
    id: 'status.restore-leftover',
    group: 'restore',
    severity: 'warning',
    title: 'status after a restore was killed before its swap',
    did: 'Ran status after an in-place restore was killed (kill -9) while pg_restore was filling its copy.',
    entry: 'scripts/status.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'restore.leftover',
    message:
      'database {restored} is left from an in-place restore of {database} ' +
      'that was stopped (pid {pid} on {hostname}, started {time})',
    hint: 'the next restore drops it; to drop it now: npx zx scripts/restore.ts --recover',
    exit: 0,
    changed: 'nothing',
    note:
      'the next in-place restore drops it once it holds the run lock; ' +
      'a copy without the marker of this server and database is listed but never dropped.',
    test: 'failures-restore-leftovers.test.ts',
  },
  {
    id: 'status.restore-leftover-unproven',
    group: 'restore',
    severity: 'warning',
    title: 'A database named like a restore copy that upkit did not mark',
    did:
      'Ran status where a database is named like a restore copy of the live one but carries no ' +
      'marker of upkit (made by hand, or by a restore killed between CREATE DATABASE and its marker).',
    entry: 'scripts/status.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'restore.leftover_unproven',
    message:
      'database {restored} is named like a restore copy of {database}, ' +
      'but upkit cannot prove it made it (no marker of this server and database)',
    hint: `upkit leaves it alone; if it is a copy you no longer need: ${PSQL} -c 'DROP DATABASE "{restored}"'`,
    exit: 0,
    changed: 'nothing (and restore --recover leaves it too)',
    test: 'failures-restore-leftovers.test.ts',
  },
  {
    id: 'rollback.after-rollback',
    group: 'restore',
    title: 'Rollback after a rollback',
    did: 'Ran rollback twice after one upgrade.',
    entry: 'scripts/rollback.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.already_restored',
    message:
      '{database} was already rolled back: it is the backup {backupName} that ' +
      'the upgrade of {time} (v2.2 → v2.3) took before it changed anything; ' +
      'no earlier run recorded a backup, so there is nothing further to roll back to',
    hint:
      'to undo the rollback, swap the names back: {swapBack}; to go back further, ' +
      'restore a backup by hand: npx zx scripts/restore.ts FILE; nothing was changed',
    exit: 3,
    changed: 'nothing',
    note: 'before, it said that no upkit run recorded a backup.',
    test: 'failures-restore-rollback.test.ts',
  },
  {
    id: 'rollback.no-terminal',
    group: 'restore',
    title: 'Rollback without a terminal and without `--yes`',
    did: 'Ran rollback from a script, where nobody can type the database name.',
    entry: 'scripts/rollback.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.no_terminal',
    message: 'rollback asks you to type the database name, and there is no terminal to ask on; nothing was changed',
    hint: 'run it on a terminal, or add --yes: npx zx scripts/rollback.ts --yes',
    exit: 2,
    changed: 'nothing',
    note: 'before, the hint named scripts/restore.ts and the backup file instead.',
    test: 'failures-restore-rollback.test.ts',
  },
];
