// Where each repeatable file stands in a database, read without writing: its row in
// upkit.repeatable (the checksum last applied), the roles it waits for, and the objects it
// defines that the database has lost since. The plan applies the files that are new, changed
// or missing something; verify and status say the same.
import type { Client } from 'pg';
import { displayPath } from '../content.ts';
import { parseSqlFile, type ParsedStatement } from '../sql/statements.ts';
import { repeatableKey, type RepeatableFile } from './files.ts';
import { definedObjects, missingObjects } from './objects.ts';

type Q = Pick<Client, 'query'>;

export interface RepeatableLedgerRow {
  file: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number;
  runId: string | null;
}

/**
 * `applied`: the ledger holds this checksum and the database every object it defines;
 * `new`: never applied; `changed`: applied with other bytes; `missing`: applied as it is, but an
 * object it defines is gone (dropped, revoked); `waiting`: a role it requires does not exist.
 */
export type RepeatableStatus = 'applied' | 'new' | 'changed' | 'missing' | 'waiting';

export interface RepeatableState {
  file: string;
  path: string;
  checksum: string;
  status: RepeatableStatus;
  /** The ledger's row for the file, whatever checksum it holds. */
  last: RepeatableLedgerRow | null;
  /** What the database lacks (status `missing`). */
  missing: string[];
  /** The required roles that do not exist (status `waiting`). */
  waitingFor: string[];
}

export const REPEATABLE_LEDGER = 'upkit.repeatable';

/** The ledger's rows by file; null when the table does not exist, 'unreadable' when this role may not read it. */
export async function readRepeatableLedger(c: Q): Promise<Map<string, RepeatableLedgerRow> | null | 'unreadable'> {
  const { rows: found } = await c.query<{ present: boolean; readable: boolean }>(
    `select to_regclass($1) is not null as present, ` +
      `coalesce(has_table_privilege(to_regclass($1), 'SELECT'), false) as readable`,
    [REPEATABLE_LEDGER],
  );
  if (!found[0]!.present) return null;
  if (!found[0]!.readable) return 'unreadable';
  const { rows } = await c.query<{
    file: string;
    checksum: string;
    applied_at: Date;
    duration_ms: number;
    run_id: string | null;
  }>('select file, checksum, applied_at, duration_ms, run_id from upkit.repeatable order by file');
  return new Map(
    rows.map((r) => [
      r.file,
      { file: r.file, checksum: r.checksum, appliedAt: r.applied_at, durationMs: r.duration_ms, runId: r.run_id },
    ]),
  );
}

/** Parses a file once (kept in `statements` under repeatableKey). */
export async function repeatableStatements(
  file: RepeatableFile,
  statements: Map<string, ParsedStatement[]>,
): Promise<ParsedStatement[]> {
  const key = repeatableKey(file.file);
  let parsed = statements.get(key);
  if (!parsed) {
    parsed = await parseSqlFile(file.text, { file: displayPath(file.path), breakpoints: false });
    statements.set(key, parsed);
  }
  return parsed;
}

/**
 * The state of every file, in name order. A file waiting for a role is not parsed; every other
 * one is (a syntax error is thrown, with file:line:col), so that what it defines can be checked.
 */
export async function repeatableStates(
  c: Q,
  files: readonly RepeatableFile[],
  statements: Map<string, ParsedStatement[]>,
  ledger: Map<string, RepeatableLedgerRow> | null,
): Promise<RepeatableState[]> {
  if (files.length === 0) return [];
  const roles = [...new Set(files.flatMap((f) => f.requiresRoles))];
  const { rows } = roles.length
    ? await c.query<{ rolname: string }>('select rolname from pg_roles where rolname = any($1::text[])', [roles])
    : { rows: [] };
  const existing = new Set(rows.map((r) => r.rolname));
  const out: RepeatableState[] = [];
  for (const f of files) {
    const last = ledger?.get(f.file) ?? null;
    const base = {
      file: f.file,
      path: f.path,
      checksum: f.checksum,
      last,
      missing: [] as string[],
      waitingFor: f.requiresRoles.filter((r) => !existing.has(r)),
    };
    if (base.waitingFor.length) {
      out.push({ ...base, status: 'waiting' });
      continue;
    }
    const parsed = await repeatableStatements(f, statements);
    if (!last) out.push({ ...base, status: 'new' });
    else if (last.checksum !== f.checksum) out.push({ ...base, status: 'changed' });
    else {
      const missing = await missingObjects(c, definedObjects(parsed));
      out.push({ ...base, status: missing.length ? 'missing' : 'applied', missing });
    }
  }
  return out;
}

/** Why a file applies, as the plan and the status say it. */
export function repeatableReason(s: Pick<RepeatableState, 'status' | 'missing'>): string {
  switch (s.status) {
    case 'new':
      return 'new: never applied';
    case 'changed':
      return 'changed since it was last applied';
    case 'missing':
      return (
        `applied, but the database lacks ${s.missing.slice(0, 3).join(', ')}` +
        `${s.missing.length > 3 ? ` and ${s.missing.length - 3} more` : ''}`
      );
    case 'waiting':
      return 'waiting: a role it requires does not exist';
    case 'applied':
      return 'applied';
  }
}
