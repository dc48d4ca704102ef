// Hardening cases (issue 12): see test/failures/catalogue.ts for what a case is. What can be
// known before the first write is checked before it: each is refused with exit 3 and nothing
// changed, in the dry run as in the real one.
import type { FailureCase } from '../types.ts';

export const refusalsCases: FailureCase[] = [
  {
    id: 'conc.lock-timeout-legacy',
    group: 'concurrency',
    title: 'A table lock held while comprehensive-upgrade.sql waits for it',
    did: 'Upgraded a v1.0 install while a report held a transaction open on users, which comprehensive-upgrade.sql alters.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}', LOCK_TIMEOUT: '150', LOCK_RETRIES: '1' },
    code: 'lock.timeout',
    message: 'comprehensive-upgrade.sql: could not get its locks within 150 ms after 2 attempts; pid {pid} (pulse-api report) holds AccessShareLock on users for {seconds} s, idle in transaction: select count(*) from users',
    hint: 'wait for that work to end, or stop it with: SELECT pg_cancel_backend({pid}); (pg_terminate_backend to end the session), then run the upgrade again',
    exit: 3,
    changed: "nothing in Pulse's schema, data or ledgers: a busy lock is no reason to apply the legacy files one by one instead; upkit.runs records the run as refused, and the backup it took is kept",
    note: 'a lock timeout, a statement timeout, a lost connection, a serialization failure or a full disk never makes upkit fall back to the files one by one: they would meet the same after applying some releases.',
    test: 'failures-refusals.test.ts',
  },
];
