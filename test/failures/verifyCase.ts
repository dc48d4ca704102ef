// A verify case's finding is one line of the report (`  ✖ code  message  → hint`), not the
// `✖ message` / `→ hint` pair of a failed command: checked here with the --json finding.
import { expect } from 'vitest';
import type { RunResult } from '../support/cli.ts';
import { pattern, type Vars } from './match.ts';
import type { FailureCase } from './types.ts';
import { plainLines } from './check.ts';

export function expectVerifyCase(r: RunResult, c: FailureCase, vars: Vars = {}): void {
  const context = `${c.id}\n--- stderr ---\n${r.stderr}`;
  expect(r.code, context).toBe(c.exit);
  const symbol = c.severity === 'warning' ? '⚠' : c.severity === 'info' ? 'ℹ' : '✖';
  const message = pattern(c.message, vars).source.slice(1, -1);
  const hint = c.hint === null ? '' : ` {2}→ ${pattern(c.hint, vars).source.slice(1, -1)}`;
  const line = new RegExp(`^ {2}${symbol} ${c.code.replace(/\./g, '\\.')} {2}${message}${hint}$`);
  expect(
    plainLines(r.stderr).filter((l) => line.test(l)),
    `${context}\n--- expected one line matching ---\n${line.source}`,
  ).toHaveLength(1);
  const report = r.json();
  const found = report.findings.filter((f) => f.code === c.code && pattern(c.message, vars).test(f.message));
  expect(found, `${c.id}: --json finding ${c.code}\n${JSON.stringify(report.findings, null, 2)}`).toHaveLength(1);
  expect(found[0]!.severity).toBe(c.severity ?? 'error');
  if (c.hint === null) expect(found[0]!.hint).toBeNull();
  else expect(found[0]!.hint).toMatch(pattern(c.hint, vars));
  expect(report.exitCode).toBe(c.exit);
}
