// What changed since a backup: the exact row counts of the application's tables (upkit's and
// drizzle's bookkeeping aside) now, against those the backup's manifest recorded or those the
// run recorded when it finished. Rollback shows them before it sets the current data aside.
import type { Client } from 'pg';
import { countRows, listDumpedTables } from './run.ts';

/** Schemas whose rows are upkit's and drizzle's own bookkeeping: a restore brings them back as they were. */
const BOOKKEEPING = new Set(['upkit', 'drizzle']);

function application(key: string): boolean {
  return !BOOKKEEPING.has(key.split('.')[0]!);
}

/** Exact row counts of the application's tables, keyed as in a manifest (`schema.table`). */
export async function applicationRowCounts(c: Pick<Client, 'query'>): Promise<Record<string, number>> {
  const tables = (await listDumpedTables(c)).filter((t) => !BOOKKEEPING.has(t.schema));
  return countRows(
    c,
    tables.map((t) => t.name),
  );
}

/** `schema.table then → now` for every table whose count differs (a missing table is named so). */
export function rowChanges(then: Record<string, number>, now: Record<string, number>): string[] {
  const keys = new Set([...Object.keys(now), ...Object.keys(then)].filter(application));
  const out: string[] = [];
  for (const k of [...keys].sort()) {
    if ((then[k] ?? 0) === (now[k] ?? 0)) continue; // a table made or dropped empty sets no rows aside
    out.push(`${k} ${then[k] ?? '(absent)'} → ${now[k] ?? '(dropped)'}`);
  }
  return out;
}

/**
 * Write activity per application table as PostgreSQL's statistics count it (rows inserted,
 * updated, deleted since the statistics were last reset), with the reset time: an UPDATE
 * leaves the row count as it was, not these. Recorded when a run finishes, compared by
 * rollback. Only from PostgreSQL 15, where a session can flush its own counts before they
 * are read (pg_stat_force_next_flush); older servers send them late, so counts alone serve.
 */
export interface WriteActivity {
  /** pg_stat_database.stats_reset of this database (ISO), or null when never reset. */
  reset: string | null;
  tables: Record<string, { ins: number; upd: number; del: number }>;
}

/** Flushes this session's pending counts (PostgreSQL 15+): they are shared once the statement ends. */
export async function flushWriteStats(c: Pick<Client, 'query'>): Promise<void> {
  if (Number((await c.query<{ v: string }>('show server_version_num')).rows[0]!.v) < 150000) return;
  await c.query('select pg_stat_force_next_flush()');
}

/** The activity now, or undefined where the server cannot give it reliably (before 15) or the role may not read it. */
export async function writeActivity(c: Pick<Client, 'query'>): Promise<WriteActivity | undefined> {
  try {
    if (Number((await c.query<{ v: string }>('show server_version_num')).rows[0]!.v) < 150000) return undefined;
    const { rows } = await c.query<{ key: string; ins: string; upd: string; del: string }>(
      `select schemaname || '.' || relname as key, n_tup_ins as ins, ` +
        `n_tup_upd as upd, n_tup_del as del from pg_stat_user_tables`,
    );
    const reset =
      (
        await c.query<{ r: Date | null }>(
          'select stats_reset as r from pg_stat_database where datname = current_database()',
        )
      ).rows[0]?.r ?? null;
    const tables: WriteActivity['tables'] = {};
    for (const r of rows.filter((x) => application(x.key)).sort((a, b) => a.key.localeCompare(b.key)))
      tables[r.key] = { ins: Number(r.ins), upd: Number(r.upd), del: Number(r.del) };
    return { reset: reset ? reset.toISOString() : null, tables };
  } catch {
    return undefined;
  }
}

export type ActivityChanges = { comparable: true; written: string[] } | { comparable: false; why: string };

/**
 * Tables written since `then` whose row count says nothing (`skip`: those rowChanges named):
 * `schema.table: 1 updated`. Not comparable when the statistics were reset since (or one
 * table's counters went down): then the row counts are all the evidence there is.
 */
export function activityChanges(
  then: WriteActivity | undefined | null,
  now: WriteActivity | undefined,
  skip: ReadonlySet<string>,
): ActivityChanges {
  if (!then) return { comparable: false, why: 'the run recorded no write statistics' };
  if (!now)
    return { comparable: false, why: 'the server gives no reliable write statistics (PostgreSQL 15 or later does)' };
  if (then.reset !== now.reset)
    return { comparable: false, why: `the write statistics were reset since (${now.reset ?? 'at a server crash'})` };
  const written: string[] = [];
  for (const [key, n] of Object.entries(now.tables)) {
    const t = then.tables[key] ?? { ins: 0, upd: 0, del: 0 };
    if (n.ins < t.ins || n.upd < t.upd || n.del < t.del)
      return { comparable: false, why: `the write statistics of ${key} were reset since` };
    if (skip.has(key)) continue;
    const parts = [
      [n.ins - t.ins, 'inserted'],
      [n.upd - t.upd, 'updated'],
      [n.del - t.del, 'deleted'],
    ]
      .filter(([d]) => (d as number) > 0)
      .map(([d, w]) => `${d} ${w}`);
    if (parts.length) written.push(`${key} (same row count; ${parts.join(', ')})`);
  }
  return { comparable: true, written };
}
