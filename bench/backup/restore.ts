// What an application sees of an in-place restore: a client that runs `select 1` on the live
// database every 10 ms (connecting again whenever its connection is ended or refused) and
// keeps the longest time between two answers. The restore swaps names at its end, so that gap
// is the time the live database could not be used.
import pg from 'pg';
import { withClient } from '../support.ts';

export interface Gaps {
  /** Longest time between two answered polls, in ms. */
  longestMs: number;
  /** Polls that failed (connection ended, refused, or database not there). */
  failed: number;
  answered: number;
  /** The mean time between two answers over the whole restore: the gap a client sees anyway on this machine. */
  meanMs: number;
}

export function pollLiveDatabase(url: string, everyMs = 10): { stop: () => Promise<Gaps> } {
  let stopped = false;
  const gaps: Gaps = { longestMs: 0, failed: 0, answered: 0, meanMs: NaN };
  const t0 = performance.now();
  const loop = (async () => {
    let client: pg.Client | undefined;
    let lastAnswer = performance.now();
    while (!stopped) {
      try {
        if (!client) {
          client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
          client.on('error', () => {});
          await client.connect();
        }
        await client.query('select 1');
        const now = performance.now();
        gaps.longestMs = Math.max(gaps.longestMs, now - lastAnswer);
        gaps.answered++;
        lastAnswer = now;
      } catch {
        gaps.failed++;
        void client?.end().catch(() => {});
        client = undefined;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
    await client?.end().catch(() => {});
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { ...gaps, meanMs: (performance.now() - t0) / Math.max(1, gaps.answered) };
    },
  };
}

/** Drops what an in-place restore kept of the database it replaced (`<db>_before_restore_*`). */
export async function dropPrevious(adminUrl: string, database: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    const { rows } = await c.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [
      `${database}\\_before\\_restore\\_%`,
    ]);
    for (const r of rows) await c.query(`drop database ${c.escapeIdentifier(r.datname)} with (force)`);
  });
}
