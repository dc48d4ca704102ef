// Verify beside a run that is changing the database: what it finds pending or half-done is
// that run's work in progress, not a problem to fix. Detected read-only: upkit's run lock
// (pg_locks) and the `running` row of upkit.runs.
import type { Client } from 'pg';
import { lockHolder } from '../lib/db.ts';

export interface RunInProgress {
  /** The command that holds the lock (`upgrade`, `install`, `mark …`). */
  command: string;
  /** Its row in upkit.runs, when it has written one yet. */
  runId: string | null;
  /** The upkit process: its pid and host, from the run's row or its session's name. */
  pid: number | null;
  host: string | null;
  /** When the run started (its row), else when its lock session connected. */
  startedAt: Date | null;
  /** The server process of the session that holds the lock. */
  backendPid: number;
}

/** Who holds upkit's run lock on the connected database, and which run it is; undefined when nobody does. */
export async function runInProgress(client: Pick<Client, 'query'>): Promise<RunInProgress | undefined> {
  const holder = await lockHolder(client as Client);
  if (!holder) return undefined;
  // Sessions are named `upkit <command> <host> <pid>` (lockApplicationName).
  const named = /^upkit (.+) (\S+) (\d+)$/.exec(holder.applicationName);
  const fromName = { command: named?.[1] ?? 'run', host: named?.[2] ?? null, pid: named ? Number(named[3]) : null };
  const { rows: table } = await client.query<{ ok: boolean }>(`select to_regclass('upkit.runs') is not null as ok`);
  if (table[0]?.ok) {
    // Under a savepoint: a lock on upkit.runs (the run may be altering it) costs the run's row
    // only, named from its session instead, and verification goes on.
    await client.query('savepoint upkit_verify_runs');
    const rows = await client
      .query<{ id: string; command: string; started_at: Date; host: string; pid: number }>(
        `select id, command, started_at, host, pid from upkit.runs ` +
          `where status = 'running' order by started_at desc limit 1`,
      )
      .then(async (r) => {
        await client.query('release savepoint upkit_verify_runs');
        return r.rows;
      })
      .catch(async (err: { code?: string }) => {
        if (err.code !== '55P03') throw err;
        await client.query('rollback to savepoint upkit_verify_runs; release savepoint upkit_verify_runs');
        return [];
      });
    const run = rows[0];
    // A `running` row of another process is a run that died; the lock holder has not written its own yet.
    if (run && (fromName.pid === null || (run.pid === fromName.pid && run.host === fromName.host))) {
      return {
        command: run.command,
        runId: run.id,
        pid: run.pid,
        host: run.host,
        startedAt: run.started_at,
        backendPid: holder.pid,
      };
    }
  }
  return { ...fromName, runId: null, startedAt: holder.backendStart, backendPid: holder.pid };
}

/** The one line verify prints, and what to do next. */
export function describeRunInProgress(r: RunInProgress, database: string): { message: string; hint: string } {
  const who = `${r.pid === null ? 'an unknown process' : `pid ${r.pid}`}${r.host ? ` on ${r.host}` : ''}`;
  const run = r.runId ? `run ${r.runId}` : 'a run that has not recorded itself in upkit.runs yet';
  return {
    message:
      `an upkit ${r.command} is running on ${database} (${run}, ${who}, ` +
      `started ${r.startedAt?.toISOString() ?? 'at an unknown time'}, holding upkit's lock in server process ` +
      `${r.backendPid}): what verify lists as pending or half-done is its work in progress`,
    hint: 'wait for it to finish (npx zx scripts/status.ts shows it), then run: npx zx verify/index.ts',
  };
}
