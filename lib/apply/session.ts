// The migration session: its timeouts, and the retry that keeps application queries from
// queueing behind upkit. A DDL statement waiting for a lock makes every later query on that
// table wait behind it; with a short lock_timeout upkit gives way at once, waits with growing
// pauses, and tries again; when it gives up it names who holds the lock.
import type { Client } from 'pg';
import { UpkitError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { maskSqlLiterals, redact } from '../redact.ts';

export interface SessionSettings {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  /** Pauses between attempts after a lock timeout; their count is the number of retries. */
  retryWaitsMs: readonly number[];
}

export async function configureSession(client: Pick<Client, 'query'>, s: SessionSettings): Promise<void> {
  await client.query(
    `select set_config('lock_timeout', $1, false), set_config('statement_timeout', ` +
      `$2, false), set_config('idle_in_transaction_session_timeout', '0', false)`,
    [`${s.lockTimeoutMs}ms`, `${s.statementTimeoutMs}ms`],
  );
}

export function isLockTimeout(err: unknown): boolean {
  return (err as { code?: string })?.code === '55P03';
}

/**
 * Why an error says nothing about the SQL that met it, so that running other SQL instead (a
 * fallback) would meet it again or make things worse: a busy lock, a timeout, a lost session,
 * a conflict with another transaction, a server out of room or shutting down, a role that
 * may not write. null for an error of the SQL itself (a constraint, a type, a missing object).
 */
export function transientReason(err: unknown): string | null {
  if (err instanceof UpkitError)
    return err.code === 'lock.timeout' || err.code === 'db.connection_lost' ? err.message : null;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (code === '55P03') return 'a lock was busy';
  if (code === '57014') return 'the statement timeout ended it';
  if (code === '25006') return 'the session is read-only';
  if (code === '42501') return 'the role lacks a privilege';
  if (code === '40001' || code === '40P01') return 'it conflicted with another transaction';
  if (code.startsWith('08') || code.startsWith('57P')) return 'the connection was lost or the server is shutting down';
  if (code.startsWith('53')) return 'the server ran out of a resource (disk, memory or connections)';
  if (code.startsWith('58')) return 'the server met a system error';
  return null;
}

export interface Blocker {
  pid: number;
  relation: string;
  mode: string;
  state: string | null;
  query: string;
  ageSeconds: number;
  applicationName: string;
}

/** Sessions holding locks on the given tables (names as in the SQL, optionally schema-qualified). */
export async function findBlockers(client: Pick<Client, 'query'>, relations: readonly string[]): Promise<Blocker[]> {
  if (relations.length === 0) return [];
  const { rows } = await client.query<{
    pid: number;
    relation: string;
    mode: string;
    state: string | null;
    query: string;
    age: number;
    application_name: string;
  }>(
    `select distinct on (a.pid) a.pid, c.relname as relation, l.mode, a.state, left(a.query, 300) as query,
            extract(epoch from now() - coalesce(a.xact_start, a.query_start))::float8 as age, a.application_name
       from pg_locks l
       join pg_class c on c.oid = l.relation
       join pg_stat_activity a on a.pid = l.pid
      where l.granted and a.pid <> pg_backend_pid()
        and (c.relname = any($1) or c.oid::regclass::text = any($1))
      order by a.pid, age desc`,
    [relations.map((r) => r.replace(/"/g, ''))],
  );
  return rows.map((r) => ({
    pid: r.pid,
    relation: r.relation,
    mode: r.mode,
    state: r.state,
    query: redact(maskSqlLiterals(r.query.replace(/\s+/g, ' ').trim())),
    ageSeconds: Math.round(r.age),
    applicationName: r.application_name,
  }));
}

/** The sessions that hold (or queue for) an exclusive lock on a relation of this database: what a read waits behind. */
export async function exclusiveHolders(client: Pick<Client, 'query'>): Promise<Blocker[]> {
  const { rows } = await client.query<{
    pid: number;
    relation: string;
    mode: string;
    state: string | null;
    query: string;
    age: number;
    application_name: string;
  }>(
    `select distinct on (a.pid) a.pid, c.oid::regclass::text as relation, l.mode, a.state, left(a.query, 300) as query,
            extract(epoch from now() - coalesce(a.xact_start, a.query_start))::float8 as age, a.application_name
       from pg_locks l
       join pg_class c on c.oid = l.relation
       join pg_stat_activity a on a.pid = l.pid
      where l.mode = 'AccessExclusiveLock' and a.pid <> pg_backend_pid()
        and l.database = (select oid from pg_database where datname = current_database())
      order by a.pid, age desc`,
  );
  return rows.map((r) => ({
    pid: r.pid,
    relation: r.relation,
    mode: r.mode,
    state: r.state,
    query: redact(maskSqlLiterals(r.query.replace(/\s+/g, ' ').trim())),
    ageSeconds: Math.round(r.age),
    applicationName: r.application_name,
  }));
}

export function describeBlocker(b: Blocker): string {
  return (
    `pid ${b.pid}${b.applicationName ? ` (${b.applicationName})` : ''} holds ${b.mode} on ` +
    `${b.relation} for ${b.ageSeconds} s, ${b.state ?? 'state unknown'}: ${b.query || '(no query)'}`
  );
}

/** The pauses between attempts for `retries` retries: 250 ms, doubling each time (250, 500, 1000, …). */
export function lockRetryWaits(retries: number): number[] {
  return Array.from({ length: Math.max(0, retries) }, (_, i) => 250 * 2 ** i);
}

/** After the attempt numbered `failed` (0 for the first) met a lock timeout: wait and try again, or give up. */
export type LockRetryDecision =
  | {
      retry: true;
      waitMs: number;
      /** 1-based number of this retry, of `retries`. */
      retryNumber: number;
      retries: number;
    }
  | { retry: false; attempts: number };

/** The retry schedule, pure: the `failed`-th attempt's wait, or the give-up once every wait is spent. */
export function nextLockRetry(failed: number, settings: Pick<SessionSettings, 'retryWaitsMs'>): LockRetryDecision {
  const wait = settings.retryWaitsMs[failed];
  if (wait === undefined) return { retry: false, attempts: failed + 1 };
  return { retry: true, waitMs: wait, retryNumber: failed + 1, retries: settings.retryWaitsMs.length };
}

/** Who held the locks, as the retry's lines say it. */
export function describeBlockers(blockers: readonly Blocker[]): string {
  return blockers.length ? blockers.map(describeBlocker).join('; ') : 'a session that has since let go';
}

/** The line logged before a retry: application queries were not held up, and when the next attempt comes. */
export function lockRetryLine(
  what: string,
  blockers: readonly Blocker[],
  d: Extract<LockRetryDecision, { retry: true }>,
): string {
  return (
    `${what}: lock busy (${describeBlockers(blockers)}); application queries were not held up; ` +
    `retry ${d.retryNumber}/${d.retries} in ${(d.waitMs / 1000).toFixed(1)} s`
  );
}

/** The error that ends the retries (exit 3): how many attempts, who holds the locks, and how to end their work. */
export function lockGiveUpError(
  what: string,
  settings: Pick<SessionSettings, 'lockTimeoutMs'>,
  attempts: number,
  blockers: readonly Blocker[],
): UpkitError {
  return new UpkitError({
    code: 'lock.timeout',
    exit: 'refused',
    message:
      `${what}: could not get its locks within ${settings.lockTimeoutMs}` +
      ` ms after ${attempts} attempts; ${describeBlockers(blockers)}`,
    hint: blockers.length
      ? `wait for that work to end, or stop it with: SELECT pg_cancel_backend(${blockers[0]!.pid}); ` +
        `(pg_terminate_backend to end the session), then run the upgrade again`
      : 'run the upgrade again; raise LOCK_TIMEOUT (or --lock-timeout) only if the application can wait that long',
  });
}

/**
 * Runs `attempt` (a whole transaction, safe to repeat) and, when it fails on a lock
 * timeout, waits and tries again (nextLockRetry()). Gives up with an error naming the blockers.
 */
export async function withLockRetry<T>(
  client: Pick<Client, 'query'>,
  what: string,
  relations: readonly string[],
  settings: SessionSettings,
  log: Logger,
  attempt: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isLockTimeout(err) || signal?.aborted) throw err;
      const blockers = await findBlockers(client, relations).catch(() => []);
      const next = nextLockRetry(i, settings);
      if (!next.retry) throw lockGiveUpError(what, settings, next.attempts, blockers);
      log.warn(lockRetryLine(what, blockers, next));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, next.waitMs);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
      if (signal?.aborted) throw signal.reason;
    }
  }
}
