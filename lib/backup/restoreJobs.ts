// How pg_restore fills the new database, and the row counts taken while it does.
//
// A local pg_restore reading a file or a directory runs with parallel jobs (-j N, without
// --single-transaction): the database is one upkit has just created and drops on any
// failure, so one transaction buys nothing there. In parallel mode pg_restore commits each
// table's data and prints `finished item <id> TABLE DATA <name>` once it has; from then on
// no later entry changes that table's rows (indexes, constraints, triggers and grants come
// after the data), so its exact count can be taken at once, on another connection, while
// pg_restore goes on with the rest (for a dominant table: while its primary key is built).
// A compose restorer reads the archive on stdin, where jobs are impossible: one transaction.
import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import type { Client } from 'pg';
import type { Config } from '../config.ts';
import { connect } from '../db.ts';
import type { CheckedBackup } from './restoreCheck.ts';
import { targetFor } from './restoreDb.ts';
import { countRows, listDumpedTables, type DumpedTable } from './run.ts';

/** More jobs than this only add connections: the server, not pg_restore, is the limit. */
export const MAX_JOBS = 4;

/**
 * pg_restore's jobs for this backup: 0 means one transaction (archive on stdin). Otherwise
 * at least 2, so that pg_restore runs in parallel mode (each table's data committed on its
 * own, and said so) even for a single table; at most the cores here, the tables in the
 * archive and MAX_JOBS, as jobs only help when several tables can be loaded or indexed at once.
 */
export function restoreJobs(
  backup: Pick<CheckedBackup, 'restorer' | 'path' | 'manifest'>,
  cores = availableParallelism(),
): number {
  if (backup.restorer.kind !== 'local') return 0;
  let seekable: boolean;
  try {
    const st = statSync(backup.path);
    seekable = st.isFile() || st.isDirectory();
  } catch {
    seekable = false;
  }
  if (!seekable) return 0;
  return Math.max(2, Math.min(cores, Object.keys(backup.manifest.tables).length, MAX_JOBS));
}

/** The arguments that make pg_restore restore the way `jobs` says. */
export function jobArgs(jobs: number): string[] {
  return jobs > 0 ? [`--jobs=${jobs}`] : ['--single-transaction'];
}

// Parallel pg_restore workers share one stderr and write a message's `pg_restore: ` prefix and its
// text apart: two workers' lines can interleave (`pg_restore:pg_restore: processing …` then
// ` finished item …`). The line is known by its text, wherever it starts.
const FINISHED_DATA = /(?:^|pg_restore: |^\s+)finished item \d+ TABLE DATA (.+)$/;

/** The table name (no schema) of a `finished item … TABLE DATA` line, else undefined. */
export function finishedTableData(line: string): string | undefined {
  return FINISHED_DATA.exec(line)?.[1];
}

/**
 * Exact row counts of the tables pg_restore has finished, taken on one connection of its
 * own while pg_restore goes on. pg_restore names a finished table without its schema: a
 * name that more than one table has (or any name holding a line break, which splits
 * pg_restore's line) is left to the comparison at the end, as is any count that fails.
 */
export class CountsWhileRestoring {
  readonly #config: Config;
  readonly #database: string;
  #client: Promise<Client> | undefined;
  #tables: Promise<DumpedTable[]> | undefined;
  /** One query at a time on the connection: each count waits for the one before. */
  #chain: Promise<void> = Promise.resolve();
  readonly #counts: Record<string, number> = {};
  #stopped = false;

  readonly #onCounted: (table: string, rows: number) => void;

  constructor(config: Config, database: string, onCounted: (table: string, rows: number) => void = () => {}) {
    this.#config = config;
    this.#database = database;
    this.#onCounted = onCounted;
  }

  /** Called with each line pg_restore prints. */
  onLine(line: string): void {
    const name = finishedTableData(line);
    if (name === undefined || this.#stopped) return;
    this.#chain = this.#chain.then(() => this.#count(name)).catch(() => {});
  }

  async #count(name: string): Promise<void> {
    this.#client ??= connect(targetFor(this.#config, this.#database), this.#config, {
      applicationName: 'upkit restore',
    });
    const client = await this.#client;
    // Every table exists once data items run (pg_restore creates them all first).
    this.#tables ??= listDumpedTables(client);
    const tables = await this.#tables;
    if (tables.some((t) => /[\r\n]/.test(t.table))) return;
    const matches = tables.filter((t) => t.table === name);
    if (matches.length !== 1 || this.#stopped) return;
    const counted = await countRows(client, [matches[0]!.name]);
    for (const [table, rows] of Object.entries(counted)) {
      this.#counts[table] = rows;
      this.#onCounted(table, rows);
    }
  }

  /** The counts taken, once every count asked for has ended; the connection is closed. */
  async settle(): Promise<Record<string, number>> {
    await this.#chain;
    await this.close();
    return { ...this.#counts };
  }

  /** Stops counting (pg_restore failed or was stopped) and closes the connection. */
  async close(): Promise<void> {
    this.#stopped = true;
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}
