// Start-up mode: `--wait-for-lock SECONDS` (and the library's waitForLockSeconds, which is
// the same flag). A wait that runs out is the lock refusal of today with the holder named; a
// bad value is a usage error before anything is read; a stop while waiting changes nothing.
// See test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

const HELP = 'run: npx zx upgrade.ts --help';

export const startupCases: FailureCase[] = [
  {
    id: 'startup.wait-timeout',
    group: 'concurrency',
    title: 'The run lock is still held when `--wait-for-lock` runs out',
    did: 'Started an upgrade with `--wait-for-lock 1` while another run held the run lock for longer.',
    entry: 'upgrade.ts',
    args: ['--yes', '--wait-for-lock', '1', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'lock.held',
    message:
      'another upkit run still holds the lock on {database} after 1 s of waiting (--wait-for-lock 1): ' +
      'pid {pid} (upkit upgrade ops-host 4242 from {client}, connected {time})',
    hint:
      'wait for it to finish (npx zx scripts/status.ts shows it), ' +
      'or wait longer with --wait-for-lock SECONDS; nothing was changed',
    exit: 5,
    changed: 'nothing (the plan is made only once the lock is taken)',
    note:
      'the test holds the lock from a session named as an upgrade on host ops-host names itself. ' +
      'As the wait begins the log says who holds the lock (`… waiting up to 1 s for it (--wait-for-lock)`); ' +
      'while it waits the session shows in pg_stat_activity as ' +
      'waiting (wait_event_type `Lock`, wait_event `advisory`).',
    test: 'failures-startup.test.ts',
  },
  {
    id: 'startup.wait-interrupted',
    group: 'concurrency',
    title: 'SIGTERM while waiting for the run lock',
    did:
      'Stopped (`docker stop`, a rollout that gave up) ' +
      'an upgrade started with `--wait-for-lock 60` while it waited for another run.',
    entry: 'upgrade.ts',
    args: ['--yes', '--wait-for-lock', '60', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'interrupted',
    message: 'interrupted by SIGTERM while waiting for the run lock on {database}; nothing was changed',
    hint: 'run the upgrade again when ready',
    exit: 130,
    changed: 'nothing; the waiting session is cancelled and gone from pg_stat_activity',
    note: 'the library stops the same way when the AbortSignal it was given is aborted.',
    test: 'failures-startup.test.ts',
  },
  {
    id: 'startup.wait-ended',
    group: 'concurrency',
    title: 'The session waiting for the run lock is ended',
    did:
      'A DBA ended the waiting session of an upgrade started with `--wait-for-lock ' +
      '60` (`pg_terminate_backend`; a server restart ends it the same way).',
    entry: 'upgrade.ts',
    args: ['--yes', '--wait-for-lock', '60', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'lock.wait_ended',
    message:
      'the session waiting for the run lock on {database} ended before it got the lock: ' +
      'terminating connection due to administrator command; nothing was changed',
    hint: 'check the server with: npx zx scripts/preflight.ts, then run the upgrade again',
    exit: 3,
    changed: 'nothing',
    note:
      'before, an error in the wait was an unexpected error, ' +
      'exit 1 (failed after changes began) for a run that had changed nothing.',
    test: 'failures-startup.test.ts',
  },
  {
    id: 'startup.wait-bad-value',
    group: 'command-line',
    title: '`--wait-for-lock` that is not a whole number of seconds from 1 to 86400',
    did:
      'Gave `--wait-for-lock 0` (the same for `abc`, `1.5`, `-1`, `1e3`, ' +
      "`86401`, an empty value, and the library's waitForLockSeconds: 0).",
    entry: 'upgrade.ts',
    args: ['--yes', '--wait-for-lock', '0'],
    code: 'usage',
    message: '--wait-for-lock must be a whole number of seconds from 1 to 86400, got "0"',
    hint: HELP,
    exit: 2,
    changed: 'nothing (refused before the configuration is read)',
    note: 'a day is the limit: a start-up that waits longer for another run is stuck, not slow.',
    test: 'failures-startup.test.ts',
  },
  {
    id: 'startup.wait-dry-run',
    group: 'command-line',
    title: '`--wait-for-lock` with `--dry-run`',
    did: 'Asked for a dry run that waits for the lock.',
    entry: 'upgrade.ts',
    args: ['--dry-run', '--wait-for-lock', '30'],
    code: 'usage',
    message:
      '--dry-run and --wait-for-lock do not go together: a dry run takes no lock, so there is nothing to wait for',
    hint: 'run: npx zx upgrade.ts --dry-run (or --wait-for-lock SECONDS alone)',
    exit: 2,
    changed: 'nothing (refused before the configuration is read)',
    test: 'failures-startup.test.ts',
  },
];
