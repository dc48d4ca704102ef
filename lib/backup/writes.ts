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
