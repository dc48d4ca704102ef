// Runs a catalogue case as an operator would and checks it exactly: the exit code, the one
// line (✖ or ⚠) with the details under it and the hint right after, the finding of the
// --json report, and, through dbState(), that the database is as the case says.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { expect } from 'vitest';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { runUpkit, type RunOptions, type RunResult } from '../support/cli.ts';
import { withClientAt } from '../support/database.ts';
import { runInProcess } from '../support/inProcess.ts';
import { rowSnapshot, type RowSnapshot } from '../support/rows.ts';
import { CASES } from './catalogue.ts';
import { fill, pattern, type Vars } from './match.ts';
import type { FailureCase } from './types.ts';
import { DURATION } from '../support/logLines.ts';

export function failureCase(id: string): FailureCase {
  const c = CASES.find((x) => x.id === id);
  if (!c) throw new Error(`no failure case "${id}" in test/failures/catalogue.ts`);
  return c;
}

export interface CaseRun extends RunResult {
  cwd: string;
  /** The values the case was run with, `cwd` included: pass them on to expectCase. */
  vars: Vars;
}

/**
 * Runs the case's command with its environment (and .env), placeholders filled from vars; --json
 * added unless the case says not. In a child process, or with `inProcess` (a usage or
 * configuration case) through the in-process runner (test/support/inProcess.ts).
 */
export async function runCase(
  c: FailureCase,
  vars: Vars = {},
  options: RunOptions & { extraEnv?: Record<string, string | undefined>; inProcess?: boolean } = {},
): Promise<CaseRun> {
  const cwd = options.cwd ?? mkdtempSync(path.join(tmpdir(), 'upkit-case-'));
  vars = { cwd, ...vars };
  if (c.dotenv !== undefined) writeFileSync(path.join(cwd, '.env'), fill(c.dotenv, vars));
  const env: Record<string, string | undefined> = { ...options.extraEnv };
  for (const [k, v] of Object.entries(c.env ?? {})) env[k] = fill(v, vars);
  const args = [...c.args.map((a) => fill(a, vars)), ...(c.json === false ? [] : ['--json'])];
  const r = options.inProcess
    ? await runInProcess(c.entry, args, { cwd, env })
    : await runUpkit(c.entry, args, { ...options, cwd, env });
  return { ...r, cwd, vars };
}

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

/** stderr without the timestamps of plain (non-terminal) output. */
export function plainLines(stderr: string): string[] {
  return stderr.split('\n').map((l) => l.replace(STAMP, ''));
}

/** Checks exit code, the exact line, its details and hint, and the --json finding. Returns the filled message. */
export function expectCase(r: RunResult, c: FailureCase, vars: Vars = {}): void {
  const context = `${c.id}\n--- stderr ---\n${r.stderr}`;
  expect(r.code, context).toBe(c.exit);
  expect(c.message.includes('\n'), `${c.id}: the message must be one line`).toBe(false);
  const lines = plainLines(r.stderr);
  const symbol = c.severity === 'warning' ? '⚠' : '✖';
  const message = pattern(c.message, vars).source.slice(1, -1);
  const step = c.step === undefined ? '' : pattern(c.step, vars).source.slice(1, -1);
  const line = new RegExp(c.step ? `^${symbol} ${step} {2}${message} \\(${DURATION}\\)$` : `^${symbol} ${message}$`);
  const at = lines.findIndex((l) => line.test(l));
  expect(at, `${context}\n--- expected a line matching ---\n${line.source}`).toBeGreaterThanOrEqual(0);
  const details = c.details ?? [];
  details.forEach((d, i) => {
    expect(lines[at + 1 + i], `${c.id}: detail ${i + 1}`).toMatch(pattern(`    ${d}`, vars));
  });
  const next = lines[at + 1 + details.length];
  if (c.hint === null) expect(next ?? '', `${c.id}: no hint expected`).not.toMatch(/^ {2}→ /);
  else expect(next, `${context}\n--- expected the hint right after ---`).toMatch(pattern(`  → ${c.hint}`, vars));
  if (c.json !== false) {
    const report = r.json();
    const found = report.findings.filter((f) => f.code === c.code && pattern(c.message, vars).test(f.message));
    expect(found, `${c.id}: --json finding ${c.code}\n${JSON.stringify(report.findings, null, 2)}`).toHaveLength(1);
    expect(found[0]!.severity).toBe(c.severity ?? 'error');
    if (c.hint === null) expect(found[0]!.hint).toBeNull();
    else expect(found[0]!.hint).toMatch(pattern(c.hint, vars));
    expect(report.exitCode).toBe(c.exit);
  }
}

/** Everything a case may change: the schema, every row of Pulse's tables, both ledgers, upkit's own tables. */
export interface DbState {
  schemas: string[];
  fingerprint: string[];
  rows: RowSnapshot;
  drizzle: RowSnapshot;
  upkit: RowSnapshot;
}

export async function dbStateOf(c: Pick<pg.Client, 'query'>): Promise<DbState> {
  const schemas = (
    await c.query<{ n: string }>(
      `select nspname as n from pg_namespace where nspname not ` +
        `like 'pg\\_%' and nspname <> 'information_schema' order by 1`,
    )
  ).rows.map((r) => r.n);
  return {
    schemas,
    fingerprint: await schemaFingerprint(c),
    rows: await rowSnapshot(c),
    drizzle: await rowSnapshot(c, 'drizzle'),
    upkit: await rowSnapshot(c, 'upkit'),
  };
}

export function dbState(url: string): Promise<DbState> {
  return withClientAt(url, dbStateOf);
}

/** Nothing changed: same schemas, schema fingerprint, rows, ledgers and upkit tables. */
export async function expectUnchanged(url: string, before: DbState): Promise<void> {
  const after = await dbState(url);
  expect(after.schemas).toEqual(before.schemas);
  expect(after.fingerprint).toEqual(before.fingerprint);
  expect(after.rows).toEqual(before.rows);
  expect(after.drizzle).toEqual(before.drizzle);
  expect(after.upkit).toEqual(before.upkit);
}

/** The upkit.runs rows (command and status), oldest first. */
export async function runsOf(url: string): Promise<Array<{ command: string; status: string }>> {
  return withClientAt(url, async (c) => {
    if ((await c.query(`select to_regclass('upkit.runs') is not null as ok`)).rows[0].ok !== true) return [];
    return (await c.query(`select command, status from upkit.runs order by started_at`)).rows;
  });
}

export function tempDir(prefix = 'upkit-case-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}
