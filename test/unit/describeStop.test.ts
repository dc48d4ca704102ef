// What an operator reads after an upgrade stopped: describeStop() (a thrown error and the run's
// facts in, the error to report and the runs ledger's status out) and describeVerificationStop()
// (the line after a verification that found errors). Pure: no database, no run.
import { describe, expect, it } from 'vitest';
import type { Blocker } from '../../lib/apply/session.ts';
import { EXIT, exitCodeFor, isUpkitError, UpkitError, usageError } from '../../lib/errors.ts';
import { describeStop, describeVerificationStop, type StopFacts } from '../../lib/upgrade.ts';

const BACKUP = '/var/backups/upkit/pulse-2026-12-02T14-00-00Z.dump';

/** A run recorded in upkit.runs, reading the plan, nothing changed yet; each row says what differs. */
function facts(over: Partial<StopFacts> = {}): StopFacts {
  return {
    phase: 'the plan (reading the database)',
    stands: { release: 'v2.0', lastStep: null, changed: false },
    recorded: true,
    interrupted: false,
    noBackup: false,
    ...over,
  };
}

/** After 0001_api_keys was applied: the database stands at v2.1. */
const changed = { stands: { release: 'v2.1', lastStep: '0001_api_keys', changed: true } };

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

const holder: Blocker = {
  pid: 777,
  relation: 'public.users',
  mode: 'AccessExclusiveLock',
  state: 'idle in transaction',
  query: 'lock table users',
  ageSeconds: 12,
  applicationName: 'psql',
};

/** What a row expects of the stop. */
interface Want {
  exit: number;
  status: 'interrupted' | 'failed' | 'refused' | null;
  code?: string;
  /** The error passes as it was thrown. */
  same?: boolean;
  message?: RegExp;
  hint?: RegExp;
  details?: RegExp[];
}

const ctrlC = { interrupted: { reason: new DOMException('This operation was aborted', 'AbortError') } } as const;

const rows: { name: string; err: unknown; facts: StopFacts; want: Want }[] = [
  // Usage and configuration: before the run is recorded, the error as it is.
  {
    name: 'usage error before anything: exit 2, as it is, no run recorded',
    err: usageError('--allow-destructive names 0009_typo, which is not a pending migration', 'run again without it'),
    facts: facts({ recorded: false }),
    want: { exit: EXIT.usage, status: null, same: true },
  },
  {
    name: 'configuration refused before anything: exit 3, as it is',
    err: new UpkitError({ code: 'config.invalid', exit: 'refused', message: 'LOCK_TIMEOUT must be a number' }),
    facts: facts({ recorded: false }),
    want: { exit: EXIT.refused, status: null, same: true },
  },
  // Refusals before writes.
  {
    name: "the plan's refusal (an edited migration): exit 3, as it is",
    err: new UpkitError({
      code: 'ledger.hash_mismatch',
      exit: 'refused',
      message: '0001_api_keys.sql was changed after it was applied',
      hint: 'put it back; nothing was changed',
    }),
    facts: facts({ recorded: false }),
    want: { exit: EXIT.refused, status: null, same: true },
  },
  {
    name: 'a refusal after the run was recorded, before any change: the run is recorded refused',
    err: new UpkitError({ code: 'rehearse.no_backup', exit: 'refused', message: 'nothing to rehearse on' }),
    facts: facts({ phase: 'the backup' }),
    want: { exit: EXIT.refused, status: 'refused', same: true },
  },
  {
    name: 'a statement timeout while the plan read: a refusal that says nothing was changed, and how to raise it',
    err: pgError('57014', 'canceling statement due to statement timeout'),
    facts: facts({ recorded: false }),
    want: {
      exit: EXIT.refused,
      status: null,
      code: 'pg.57014',
      message: new RegExp(
        String.raw`^ERROR 57014: canceling statement due to statement timeout \(while reading the ` +
          String.raw`database, before any change; nothing was changed\)$`,
      ),
      hint: /MIGRATION_TIMEOUT.*nothing was changed$/,
    },
  },
  {
    name: 'another PostgreSQL error while the plan read (a lost session): a refusal, run again',
    err: pgError('57P01', 'terminating connection due to administrator command'),
    facts: facts({ recorded: false }),
    want: {
      exit: EXIT.refused,
      status: null,
      code: 'pg.57P01',
      hint: /^see the log file; nothing was changed: run the upgrade again when the cause is gone$/,
    },
  },
  // Locks.
  {
    name: 'lock held: another run holds the run lock, exit 5 as it is',
    err: new UpkitError({ code: 'lock.held', exit: 'locked', message: 'another upkit run holds the lock on pulse' }),
    facts: facts({ recorded: false }),
    want: { exit: EXIT.locked, status: null, same: true },
  },
  {
    name:
      "a role's lock_timeout while the plan read, " +
      'a session holding the lock: named, with the command that cancels it',
    err: pgError('55P03', 'canceling statement due to lock timeout'),
    facts: facts({ recorded: false, lockHolders: [holder] }),
    want: {
      exit: EXIT.refused,
      status: null,
      code: 'pg.55P03',
      details: [
        /^pid 777 \(psql\) holds AccessExclusiveLock on public\.users for 12 s, idle in transaction: lock table users$/,
      ],
      hint: new RegExp(
        String.raw`^wait for that work to end, or stop it with: SELECT pg_cancel_backend\(777\); ` +
          String.raw`then run the upgrade again; nothing was changed$`,
      ),
    },
  },
  {
    name: "a role's lock_timeout while the plan read, nobody holding it any more",
    err: pgError('55P03', 'canceling statement due to lock timeout'),
    facts: facts({ recorded: false, lockHolders: [] }),
    want: {
      exit: EXIT.refused,
      status: null,
      code: 'pg.55P03',
      hint: /^a lock_timeout of the role or database ended the read/,
    },
  },
  {
    name: 'the migrations gave up on a busy lock before any change: exit 3, recorded refused',
    err: new UpkitError({ code: 'lock.timeout', exit: 'refused', message: '0001_api_keys: could not get its locks' }),
    facts: facts({ phase: 'the migrations', current: '0001_api_keys' }),
    want: { exit: EXIT.refused, status: 'refused', same: true },
  },
  {
    name: 'a busy lock after changes began: exit 1, where the database stands, and the backup to restore',
    err: new UpkitError({
      code: 'lock.timeout',
      exit: 'refused',
      message: '0002_audit_logs: could not get its locks within 2000 ms after 7 attempts',
      hint: 'wait for that work to end, then run the upgrade again',
    }),
    facts: facts({ phase: 'the migrations', current: '0002_audit_logs', backupPath: BACKUP, ...changed }),
    want: {
      exit: EXIT.failed,
      status: 'failed',
      code: 'lock.timeout',
      message: /^0002_audit_logs: could not get its locks .* \(the database stands after 0001_api_keys \(v2\.1\)\)$/,
      hint: new RegExp(
        String.raw`^wait for that work to end, then run the upgrade again; to go back: npx zx ` +
          String.raw`scripts\/restore\.ts \/var\/backups\/upkit\/pulse-2026-12-02T14-00-00Z\.dump$`,
      ),
    },
  },
  // Failures after writes.
  {
    name:
      'a migration failed after changes, with a backup: ' +
      'its "nothing was changed" dropped, the restore command added',
    err: new UpkitError({
      code: 'drizzle.failed',
      exit: 'failed',
      message: '0002_audit_logs.sql:3:1: ERROR 42P07: relation "audit_logs" already exists',
      details: ['3 | CREATE TABLE "audit_logs" ('],
      hint: 'fix the migration, then run the upgrade again; nothing was changed',
    }),
    facts: facts({ phase: 'the migrations', current: '0002_audit_logs', backupPath: BACKUP, ...changed }),
    want: {
      exit: EXIT.failed,
      status: 'failed',
      code: 'drizzle.failed',
      message: /already exists \(the database stands after 0001_api_keys \(v2\.1\)\)$/,
      hint: /^fix the migration, then run the upgrade again; to go back: npx zx scripts\/restore\.ts /,
      details: [/^3 \| CREATE TABLE "audit_logs" \($/],
    },
  },
  {
    name: 'a failure whose message already says where the database stands: not said twice',
    err: new UpkitError({
      code: 'drizzle.failed',
      exit: 'failed',
      message: 'ERROR (0002_audit_logs; the database now stands after 0001_api_keys)',
    }),
    facts: facts({ phase: 'the migrations', backupPath: BACKUP, ...changed }),
    want: {
      exit: EXIT.failed,
      status: 'failed',
      message: /^ERROR \(0002_audit_logs; the database now stands after 0001_api_keys\)$/,
      hint: /^see the log file; to go back: /,
    },
  },
  {
    name: "a failure after changes with --no-backup: the way back is the operator's own snapshot",
    err: new UpkitError({ code: 'seed.failed', exit: 'failed', message: 'seed data failed', hint: 'see the log file' }),
    facts: facts({ phase: 'the migrations', noBackup: true, ...changed }),
    want: {
      exit: EXIT.failed,
      status: 'failed',
      hint: /^see the log file; upkit took no backup \(--no-backup\): to go back, restore your own snapshot$/,
    },
  },
  {
    name: 'a failure after changes on a fresh install (nothing backed up): no way back offered',
    err: new UpkitError({ code: 'seed.failed', exit: 'failed', message: 'seed data failed', hint: 'see the log file' }),
    facts: facts({ phase: 'the migrations', ...changed }),
    want: { exit: EXIT.failed, status: 'failed', hint: /^see the log file$/ },
  },
  // Interrupted.
  {
    name: 'Ctrl-C while the plan read, not recorded yet: nothing was changed',
    err: pgError('57014', 'canceling statement due to user request'),
    facts: facts({ recorded: false, ...ctrlC }),
    want: {
      exit: EXIT.interrupted,
      status: null,
      code: 'interrupted',
      message: /^interrupted during the plan \(reading the database\); nothing was changed$/,
      hint: /^run the upgrade again when ready$/,
    },
  },
  {
    name: 'Ctrl-C during the backup: the partial file removed, recorded interrupted',
    err: new Error('pg_dump was stopped'),
    facts: facts({ phase: 'the backup', ...ctrlC }),
    want: {
      exit: EXIT.interrupted,
      status: 'interrupted',
      message: new RegExp(
        String.raw`^interrupted during the backup; the partial backup file was removed and nothing ` +
          String.raw`was changed; upkit\.runs records the run as interrupted$`,
      ),
    },
  },
  {
    name: 'a time limit during the first migration: its own message, rolled back, the backup named',
    err: pgError('57014', 'canceling statement due to user request'),
    facts: facts({
      phase: 'the migrations',
      current: 'drizzle 0001_api_keys',
      backupPath: BACKUP,
      interrupted: {
        reason: new UpkitError({ code: 'timeout', exit: 'interrupted', message: 'stopped after 600 s (--timeout)' }),
      },
    }),
    want: {
      exit: EXIT.interrupted,
      status: 'interrupted',
      message: new RegExp(
        String.raw`^stopped after 600 s \(--timeout\) during drizzle 0001_api_keys; it was rolled ` +
          String.raw`back and nothing was changed; upkit\.runs`,
      ),
      hint: new RegExp(
        String.raw`^run the upgrade again when ready \(the backup it took: ` +
          String.raw`\/var\/backups\/upkit\/pulse-2026-12-02T14-00-00Z\.dump\)$`,
      ),
    },
  },
  {
    name: 'Ctrl-C during a later migration: the statement rolled back, where it stands, run again to finish',
    err: pgError('57014', 'canceling statement due to user request'),
    facts: facts({
      phase: 'the migrations',
      current: 'drizzle 0002_audit_logs',
      backupPath: BACKUP,
      ...changed,
      ...ctrlC,
    }),
    want: {
      exit: EXIT.interrupted,
      status: 'interrupted',
      message: new RegExp(
        String.raw`^interrupted during drizzle 0002_audit_logs; the statement in progress was ` +
          String.raw`rolled back and the database stands after 0001_api_keys \(v2\.1\); upkit\.runs ` +
          String.raw`records the run as interrupted$`,
      ),
      hint: /^run the upgrade again to finish; to go back: npx zx scripts\/restore\.ts /,
    },
  },
  // Verification.
  {
    name: 'Ctrl-C during verification: every step applied, finish the check',
    err: new Error('aborted'),
    facts: facts({ phase: 'verification', backupPath: BACKUP, ...changed, ...ctrlC }),
    want: {
      exit: EXIT.interrupted,
      status: 'interrupted',
      message: new RegExp(
        String.raw`^interrupted during verification; every step of the plan was applied and the ` +
          String.raw`database stands after 0001_api_keys`,
      ),
      hint: /^finish the check with: npx zx verify\/index\.ts; to go back: /,
    },
  },
  {
    name: 'verification failed to run after changes (its session lost): exit 1, where it stands',
    err: pgError('57P01', 'terminating connection due to administrator command'),
    facts: facts({ phase: 'verification', backupPath: BACKUP, ...changed }),
    want: {
      exit: EXIT.failed,
      status: 'failed',
      code: 'upgrade.failed',
      message:
        /^terminating connection due to administrator command \(the database stands after 0001_api_keys \(v2\.1\)\)$/,
    },
  },
  // Containers and health.
  {
    name: 'Ctrl-C during the containers: every step applied, check the application',
    err: new Error('docker compose was stopped'),
    facts: facts({ phase: 'the containers and health checks', lastStep: 'containers', ...changed, ...ctrlC }),
    want: {
      exit: EXIT.interrupted,
      status: 'interrupted',
      message: /^interrupted during the containers; every step of the plan was applied/,
      hint: /^check the application with: npx zx scripts\/health\.ts$/,
    },
  },
  {
    name: 'Ctrl-C during the health checks (after the containers were rebuilt)',
    err: new Error('aborted'),
    facts: facts({ phase: 'the containers and health checks', lastStep: 'verify', ...changed, ...ctrlC }),
    want: { exit: EXIT.interrupted, status: 'interrupted', message: /^interrupted during the health checks; / },
  },
  {
    name: 'the containers could not be rebuilt (compose failed): exit 1, where the database stands',
    err: new UpkitError({
      code: 'compose.failed',
      exit: 'failed',
      message: 'docker compose up exited with 1',
      hint: 'see the log file',
    }),
    facts: facts({ phase: 'the containers and health checks', lastStep: 'containers', backupPath: BACKUP, ...changed }),
    want: {
      exit: EXIT.failed,
      status: 'failed',
      code: 'compose.failed',
      message: /^docker compose up exited with 1 \(the database stands after 0001_api_keys \(v2\.1\)\)$/,
    },
  },
  // Unexpected errors.
  {
    name: 'an unexpected error before any change: as it is (exit 1: upkit never claims nothing changed)',
    err: new TypeError("Cannot read properties of undefined (reading 'tag')"),
    facts: facts(),
    want: { exit: EXIT.failed, status: 'refused', same: true },
  },
  {
    name: 'an unexpected error after changes: upgrade.failed, where it stands, the log and the backup',
    err: new TypeError("Cannot read properties of undefined (reading 'tag')"),
    facts: facts({ phase: 'the migrations', backupPath: BACKUP, ...changed }),
    want: {
      exit: EXIT.failed,
      status: 'failed',
      code: 'upgrade.failed',
      message:
        /^Cannot read properties of undefined \(reading 'tag'\) \(the database stands after 0001_api_keys \(v2\.1\)\)$/,
      hint: /^see the log file; to go back: npx zx scripts\/restore\.ts /,
    },
  },
];

describe('describeStop over each kind of stop', () => {
  it.each(rows)('$name', ({ err, facts: f, want }) => {
    const stop = describeStop(err, f);
    expect(stop.status).toBe(want.status);
    expect(exitCodeFor(stop.error)).toBe(want.exit);
    if (want.same) {
      expect(stop.error).toBe(err);
      return;
    }
    if (!isUpkitError(stop.error)) throw new Error(`expected an UpkitError, got ${String(stop.error)}`);
    if (want.code) expect(stop.error.code).toBe(want.code);
    if (want.message) expect(stop.error.message).toMatch(want.message);
    if (want.hint) expect(stop.error.hint).toMatch(want.hint);
    for (const [i, re] of (want.details ?? []).entries()) expect(stop.error.details[i]).toMatch(re);
    // What changed the database keeps the error that caused the stop.
    if (!f.interrupted && f.stands.changed) expect(stop.error.cause).toBe(err);
  });

  it('quotes a backup path that needs it, so that the command pastes', () => {
    const stop = describeStop(
      new Error('boom'),
      facts({ phase: 'the migrations', backupPath: "/srv/it's/b.dump", ...changed }),
    );
    expect((stop.error as UpkitError).hint).toBe(
      `see the log file; to go back: npx zx scripts/restore.ts "/srv/it's/b.dump"`,
    );
  });
});

describe('describeVerificationStop', () => {
  const rows = [
    {
      name: 'errors after applied steps, with a backup',
      v: { errors: 2, applied: 3, to: 'v2.3', backupPath: BACKUP, noBackup: false },
      message:
        'verification found 2 problems (listed above) after the upgrade applied 3 steps; the database stands at v2.3',
      hint: `see them again: npx zx verify/index.ts; to go back: npx zx scripts/restore.ts ${BACKUP}`,
    },
    {
      name: 'an error with nothing applied: nothing was changed, no way back needed',
      v: { errors: 1, applied: 0, to: 'v2.3', backupPath: BACKUP, noBackup: false },
      message: 'verification found 1 problem (listed above) and the plan had nothing to apply, so nothing was changed',
      hint: 'see them again: npx zx verify/index.ts',
    },
    {
      name: "an app's folder is named in the command; --no-backup points to the operator's snapshot",
      v: { errors: 1, applied: 1, to: '0002_more', otherAppFolder: '/srv/app/drizzle', noBackup: true },
      message:
        'verification found 1 problem (listed above) ' +
        'after the upgrade applied 1 step; the database stands at 0002_more',
      hint:
        'see them again: npx zx verify/index.ts --drizzle-dir /srv/app/drizzle; ' +
        'upkit took no backup (--no-backup): to go back, restore your own snapshot',
    },
    {
      name: 'a database emptied to no release',
      v: { errors: 1, applied: 1, to: null, noBackup: false },
      message:
        'verification found 1 problem (listed above) after the upgrade applied 1 step; the database stands at empty',
      hint: 'see them again: npx zx verify/index.ts',
    },
  ];
  it.each(rows)('$name', ({ v, message, hint }) => {
    expect(describeVerificationStop(v)).toEqual({ message, hint });
  });
});
