// upkit's own state in the database (DESIGN.md "State kept in the database"): the runs
// ledger, the legacy ledger, the repeatable files' ledger, and the parts of drizzle migrations already applied (a
// migration whose concurrent index is built after its transaction commits is recorded in
// drizzle's ledger only once every part is done). Read without writing; created by the
// first run that changes something.
import { hostname } from 'node:os';
import type { Client } from 'pg';
import { redactDeep } from './redact.ts';

type Q = Pick<Client, 'query'>;

export const LEDGER_DDL = `
create schema if not exists upkit;
create table if not exists upkit.runs (
  id text primary key,
  command text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  status text not null check (status in ('running', 'ok', 'failed', 'refused', 'interrupted', 'crashed')),
  release_from text,
  release_to text,
  backup_path text,
  tool_version text not null,
  host text not null,
  pid integer not null,
  report jsonb
);
-- Why the run took no backup, when the operator chose so (--no-backup); added after the table.
alter table upkit.runs add column if not exists backup_skipped text;
-- Whose backup backup_path is (its sha256, the server's system_identifier, the database):
-- rollback restores that file only while it is still this backup; added after the table.
alter table upkit.runs add column if not exists backup_sha256 text;
alter table upkit.runs add column if not exists backup_system_identifier text;
alter table upkit.runs add column if not exists backup_database text;
create table if not exists upkit.legacy_migrations (
  file text not null,
  checksum text not null,
  applied_at timestamptz not null default now(),
  duration_ms integer not null,
  method text not null check (method in ('comprehensive', 'file', 'baseline')),
  run_id text,
  primary key (file, checksum)
);
create table if not exists upkit.migration_parts (
  tag text not null,
  hash text not null,
  part text not null,
  applied_at timestamptz not null default now(),
  run_id text,
  primary key (tag, hash, part)
);
-- The repeatable SQL files (lib/repeatable/): one row per file, the checksum it was last applied with.
create table if not exists upkit.repeatable (
  file text primary key,
  checksum text not null,
  applied_at timestamptz not null default now(),
  duration_ms integer not null,
  run_id text
);`;

export interface DrizzleLedgerRow {
  id: number;
  hash: string;
  createdAt: number | null;
}

export interface LegacyLedgerRow {
  file: string;
  checksum: string;
  method: 'comprehensive' | 'file' | 'baseline';
  appliedAt: Date;
}

export interface RunRow {
  id: string;
  command: string;
  startedAt: Date;
  finishedAt: Date | null;
  status: string;
  releaseFrom: string | null;
  releaseTo: string | null;
  backupPath: string | null;
  /** Why no backup was taken, when the operator chose so (`--no-backup`). */
  backupSkipped: string | null;
  /** What the backup was when the run took it (null in runs recorded before upkit kept it). */
  backupSha256: string | null;
  backupSystemIdentifier: string | null;
  backupDatabase: string | null;
  host: string;
  pid: number;
}

async function exists(c: Q, relation: string): Promise<boolean> {
  const { rows } = await c.query<{ ok: boolean }>('select to_regclass($1) is not null as ok', [relation]);
  return rows[0]!.ok;
}

export async function readDrizzleLedger(c: Q): Promise<DrizzleLedgerRow[] | null> {
  if (!(await exists(c, 'drizzle.__drizzle_migrations'))) return null;
  const { rows } = await c.query<{ id: number; hash: string; created_at: string | null }>(
    'select id, hash, created_at::text from drizzle.__drizzle_migrations order by id',
  );
  return rows.map((r) => ({ id: r.id, hash: r.hash, createdAt: r.created_at === null ? null : Number(r.created_at) }));
}

export async function readLegacyLedger(c: Q): Promise<LegacyLedgerRow[] | null> {
  if (!(await exists(c, 'upkit.legacy_migrations'))) return null;
  const { rows } = await c.query<{
    file: string;
    checksum: string;
    method: LegacyLedgerRow['method'];
    applied_at: Date;
  }>('select file, checksum, method, applied_at from upkit.legacy_migrations order by applied_at');
  return rows.map((r) => ({ file: r.file, checksum: r.checksum, method: r.method, appliedAt: r.applied_at }));
}

export async function readParts(c: Q): Promise<Set<string>> {
  if (!(await exists(c, 'upkit.migration_parts'))) return new Set();
  const { rows } = await c.query<{ tag: string; hash: string; part: string }>(
    'select tag, hash, part from upkit.migration_parts',
  );
  return new Set(rows.map((r) => partKey(r.tag, r.hash, r.part)));
}

export function partKey(tag: string, hash: string, part: string): string {
  return `${tag}:${hash}:${part}`;
}

function toRun(r: Record<string, unknown>): RunRow {
  return {
    id: r.id as string,
    command: r.command as string,
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    status: r.status as string,
    releaseFrom: (r.release_from as string | null) ?? null,
    releaseTo: (r.release_to as string | null) ?? null,
    backupPath: (r.backup_path as string | null) ?? null,
    backupSkipped: (r.backup_skipped as string | null | undefined) ?? null,
    backupSha256: (r.backup_sha256 as string | null | undefined) ?? null,
    backupSystemIdentifier: (r.backup_system_identifier as string | null | undefined) ?? null,
    backupDatabase: (r.backup_database as string | null | undefined) ?? null,
    host: r.host as string,
    pid: r.pid as number,
  };
}

export async function readRuns(c: Q, limit = 10): Promise<RunRow[] | null> {
  if (!(await exists(c, 'upkit.runs'))) return null;
  const { rows } = await c.query('select * from upkit.runs order by started_at desc limit $1', [limit]);
  return rows.map(toRun);
}

export async function ensureLedger(c: Q): Promise<void> {
  await c.query(LEDGER_DDL);
}

/**
 * Marks every `running` row crashed: only one run holds the lock, so under it any other
 * `running` row is a run that died. Returns them. Writes nothing when there are none.
 */
export async function markCrashedRuns(c: Q): Promise<RunRow[]> {
  if (!(await exists(c, 'upkit.runs'))) return [];
  const { rows } = await c.query(
    `update upkit.runs set status = 'crashed', finished_at = ` +
      `coalesce(finished_at, now()) where status = 'running' returning *`,
  );
  return rows.map(toRun);
}

export async function startRun(
  c: Q,
  run: {
    id: string;
    command: string;
    releaseFrom: string | null;
    releaseTo: string | null;
    toolVersion: string;
    backupSkipped?: string;
  },
): Promise<RunRow[]> {
  const crashed = await markCrashedRuns(c);
  await c.query(
    `insert into upkit.runs (id, command, status, release_from, release_to, tool_version, ` +
      `host, pid, backup_skipped) values ($1, $2, 'running', $3, $4, $5, $6, $7, $8)`,
    [
      run.id,
      run.command,
      run.releaseFrom,
      run.releaseTo,
      run.toolVersion,
      hostname(),
      process.pid,
      run.backupSkipped ?? null,
    ],
  );
  return crashed;
}

export async function finishRun(
  c: Q,
  id: string,
  fields: { status: string; backupPath?: string | null; releaseTo?: string | null; report?: unknown },
): Promise<void> {
  await c.query(
    `update upkit.runs set status = $2, finished_at = now(), backup_path = coalesce($3, ` +
      `backup_path), release_to = coalesce($4, release_to), report = $5 where id = $1`,
    [
      id,
      fields.status,
      fields.backupPath ?? null,
      fields.releaseTo ?? null,
      fields.report === undefined ? null : JSON.stringify(redactDeep(fields.report)),
    ],
  );
}

/** Records the backup a run took: its path, and what proves it is that backup (sha256, server, database). */
export async function setRunBackup(
  c: Q,
  id: string,
  backup: { path: string; sha256: string; systemIdentifier?: string | undefined; database: string },
): Promise<void> {
  await c.query(
    'update upkit.runs set backup_path = $2, backup_sha256 = $3, ' +
      'backup_system_identifier = $4, backup_database = $5 where id = $1',
    [id, backup.path, backup.sha256, backup.systemIdentifier ?? null, backup.database],
  );
}
