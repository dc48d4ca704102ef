// The combined result of a run over targets: the worst exit code by the documented order, the
// table a person reads, and the one JSON document holding every target's own report.
import { formatDuration } from '../log.ts';
import type { Finding, Report } from '../report.ts';
import { statusFor } from '../report.ts';
import { redactDeep } from '../redact.ts';

/**
 * Worst first. 130 ranks just above 0: it is the combined code only when every target either
 * finished OK or was stopped cleanly (rolled back, lock released), so that running the same
 * command again is all there is to do; anything a target reported that needs a person wins.
 */
export const EXIT_ORDER = [1, 6, 4, 5, 3, 2, 130, 0] as const;

export function worstExit(codes: readonly number[]): number {
  let worst = 0;
  const rank = (c: number) => {
    const i = (EXIT_ORDER as readonly number[]).indexOf(c);
    return i === -1 ? 0 : i; // an unknown code counts as a failure
  };
  for (const c of codes) if (rank(c) < rank(worst)) worst = c;
  return worst;
}

export interface TargetResult {
  name: string;
  /** The target's status (report.status), or `skipped`. */
  result: Report['status'] | 'skipped';
  exitCode: number | null;
  /** Why a target did not run. */
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** The target's own report, the same object `--json` prints for one database. */
  report: Report | null;
}

export interface TargetsReport {
  tool: 'upkit';
  version: string;
  command: string;
  targetsFile: string;
  status: Report['status'];
  exitCode: number;
  /** The order the combined exit code is chosen by, worst first. */
  exitOrder: readonly number[];
  summary: string;
  durationMs: number;
  targets: TargetResult[];
  /** Each target's errors (its name first) and why a target was skipped. */
  findings: Finding[];
  logFile: string | null;
}

export function summarize(results: readonly TargetResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
  const parts = [...counts].map(([result, n]) => `${n} ${result}`);
  return `${results.length} target${results.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

export function buildTargetsReport(init: {
  version: string;
  command: string;
  targetsFile: string;
  results: TargetResult[];
  exitCode: number;
  durationMs: number;
  logFile: string | undefined;
}): TargetsReport {
  const findings: Finding[] = [];
  for (const r of init.results) {
    if (r.result === 'skipped')
      findings.push({
        severity: 'warning',
        code: 'targets.skipped',
        message: `${r.name}: skipped (${r.reason})`,
        hint: null,
      });
    else if (r.reason !== null)
      findings.push({ severity: 'error', code: `targets.${r.result}`, message: `${r.name}: ${r.reason}`, hint: null });
    for (const f of r.report?.findings ?? [])
      if (f.severity === 'error') findings.push({ ...f, message: `${r.name}: ${f.message}` });
  }
  return redactDeep({
    tool: 'upkit',
    version: init.version,
    command: init.command,
    targetsFile: init.targetsFile,
    status: statusFor(init.exitCode),
    exitCode: init.exitCode,
    exitOrder: EXIT_ORDER,
    summary: summarize(init.results),
    durationMs: Math.round(init.durationMs),
    targets: init.results,
    findings,
    logFile: init.logFile ?? null,
  });
}

function cell(r: TargetResult): string[] {
  const rep = r.report;
  const release =
    rep && (rep.release.from !== null || rep.release.to !== null)
      ? `${rep.release.from ?? 'empty'} → ${rep.release.to ?? '?'}`
      : '-';
  const result =
    r.result === 'skipped' ? `skipped: ${r.reason}` : r.exitCode === 0 ? r.result : `${r.result} (exit ${r.exitCode})`;
  return [
    r.name,
    release,
    result,
    r.durationMs === null ? '-' : formatDuration(r.durationMs),
    rep?.backup?.path ?? '-',
  ];
}

/** target, from → to, result, duration, backup: one row per target, in the file's order. */
export function renderTable(results: readonly TargetResult[]): string {
  const rows = [['target', 'from → to', 'result', 'duration', 'backup'], ...results.map(cell)];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => [...row[i]!].length)));
  return rows
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
