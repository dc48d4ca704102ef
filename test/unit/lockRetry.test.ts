// The lock-retry schedule, pure: how long upkit waits after each lock timeout, how many times,
// when it gives up, and what it says then (lib/apply/session.ts). withLockRetry() follows it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Blocker,
  lockGiveUpError,
  lockRetryLine,
  lockRetryWaits,
  nextLockRetry,
  type SessionSettings,
} from '../../lib/apply/session.ts';
import { loadConfig } from '../../lib/config.ts';
import { EXIT } from '../../lib/errors.ts';
import { sessionSettings } from '../../lib/upgrade.ts';

/** Every decision from the first failed attempt until the schedule gives up. */
function schedule(settings: Pick<SessionSettings, 'retryWaitsMs'>) {
  const decisions = [];
  for (let failed = 0; ; failed++) {
    const d = nextLockRetry(failed, settings);
    decisions.push(d);
    if (!d.retry) return decisions;
  }
}

const blocker: Blocker = {
  pid: 4242,
  relation: 'users',
  mode: 'AccessShareLock',
  state: 'idle in transaction',
  query: 'select * from users where id = $1',
  ageSeconds: 31,
  applicationName: 'pulse-api',
};

describe('lock retry schedule', () => {
  const rows = [
    { retries: 0, waits: [], attempts: 1 },
    { retries: 1, waits: [250], attempts: 2 },
    { retries: 3, waits: [250, 500, 1000], attempts: 4 },
    { retries: 6, waits: [250, 500, 1000, 2000, 4000, 8000], attempts: 7 },
  ];
  it.each(rows)('$retries retries: waits $waits, gives up after $attempts attempts', ({ retries, waits, attempts }) => {
    expect(lockRetryWaits(retries)).toEqual(waits);
    const decisions = schedule({ retryWaitsMs: lockRetryWaits(retries) });
    expect(decisions).toEqual([
      ...waits.map((waitMs, i) => ({ retry: true, waitMs, retryNumber: i + 1, retries })),
      { retry: false, attempts },
    ]);
  });

  it('follows the waits it is given, in order, whatever they are', () => {
    expect(
      schedule({ retryWaitsMs: [10, 5, 7] }).map((d) => (d.retry ? d.waitMs : `give up after ${d.attempts}`)),
    ).toEqual([10, 5, 7, 'give up after 4']);
  });

  it('a negative count of retries is none', () => {
    expect(lockRetryWaits(-2)).toEqual([]);
  });

  it("takes the count from the configuration's LOCK_RETRIES, and its lock and statement timeouts", () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'upkit-lockretry-'));
    const config = loadConfig({
      cwd,
      env: {
        DATABASE_URL: 'postgres://pulse@localhost:5432/pulse',
        LOCK_RETRIES: '3',
        LOCK_TIMEOUT: '750',
        MIGRATION_TIMEOUT: '60000',
      },
    });
    expect(sessionSettings(config)).toEqual({
      lockTimeoutMs: 750,
      statementTimeoutMs: 60000,
      retryWaitsMs: [250, 500, 1000],
    });
  });
});

describe('what a lock retry says', () => {
  it('before each retry: the blockers, that application queries were not held up, the retry and its wait', () => {
    const d = nextLockRetry(1, { retryWaitsMs: lockRetryWaits(3) });
    if (!d.retry) throw new Error('expected a retry');
    expect(lockRetryLine('0001_names', [blocker], d)).toBe(
      '0001_names: lock busy (pid 4242 (pulse-api) holds AccessShareLock on users for 31 s, idle in transaction: ' +
        'select * from users where id = $1); application queries were not held up; retry 2/3 in 0.5 s',
    );
    expect(lockRetryLine('seed data', [], d)).toContain('lock busy (a session that has since let go)');
  });

  const giveUps = [
    {
      name: 'with a blocker: exit 3, who, and the command that ends its work',
      blockers: [blocker],
      message: /^0001_names: could not get its locks within 750 ms after 4 attempts; pid 4242 \(pulse-api\) holds/,
      hint: /SELECT pg_cancel_backend\(4242\);.*then run the upgrade again$/,
    },
    {
      name: 'without one (it let go): exit 3, and when to raise the lock timeout',
      blockers: [],
      message: /after 4 attempts; a session that has since let go$/,
      hint: new RegExp(
        String.raw`^run the upgrade again; raise LOCK_TIMEOUT \(or --lock-timeout\) only if the ` +
          String.raw`application can wait that long$`,
      ),
    },
  ];
  it.each(giveUps)('giving up $name', ({ blockers, message, hint }) => {
    const d = nextLockRetry(3, { retryWaitsMs: lockRetryWaits(3) });
    if (d.retry) throw new Error('expected the give-up');
    const err = lockGiveUpError('0001_names', { lockTimeoutMs: 750 }, d.attempts, blockers);
    expect(err.code).toBe('lock.timeout');
    expect(err.exitCode).toBe(EXIT.refused);
    expect(err.message).toMatch(message);
    expect(err.hint).toMatch(hint);
  });
});
