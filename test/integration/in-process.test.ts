// The in-process runner the usage and configuration cases use (test/support/inProcess.ts) says
// what a child process says: the same exit code, stdout, stderr and --json report, run after
// run (nothing one run registers, a secret or a public name, changes the next).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { type RunResult, runUpkit } from '../support/cli.ts';
import { useFreshDatabase } from '../support/database.ts';
import { runInProcess } from '../support/inProcess.ts';

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

/** What may differ between two runs of the same command: timestamps, durations, the log folder. */
function comparable(r: RunResult, cwd: string) {
  const text = (s: string) =>
    s
      .split('\n')
      .map((l) => l.replace(STAMP, ''))
      .join('\n')
      .replaceAll(r.logDir, 'LOGS')
      .replaceAll(cwd, 'CWD')
      .replace(/\(\d+(?:\.\d)? (?:ms|s)\)/g, '(T)')
      .replace(/"durationMs": \d+/g, '"durationMs": 0')
      .replace(/LOGS\/[^\s'"]+/g, 'LOGS/FILE');
  let report: Partial<Report> | undefined;
  if (r.stdout.startsWith('{')) {
    const { durationMs: _d, logFile: _l, phases, ...rest } = r.json();
    report = { ...rest, phases: phases.map((p) => ({ ...p, durationMs: 0 })) };
  }
  return { code: r.code, stdout: report ? undefined : text(r.stdout), stderr: text(r.stderr), report };
}

describe('in-process runs say what child processes say', () => {
  const db = useFreshDatabase();

  const cases: Array<{
    name: string;
    entry: string;
    args: string[];
    exit: number;
    env?: () => Record<string, string>;
    dotenv?: string;
  }> = [
    { name: '--help alone', entry: 'upgrade.ts', args: ['--help'], exit: 0 },
    { name: '--help after a flag', entry: 'scripts/status.ts', args: ['--json', '--help'], exit: 0 },
    {
      name: 'an unknown flag, with --json',
      entry: 'verify/index.ts',
      args: ['--bogus', '--json'],
      exit: 2,
      env: () => ({ DATABASE_URL: db().url }),
    },
    { name: 'no settings at all', entry: 'upgrade.ts', args: ['--yes', '--json'], exit: 2 },
    {
      name: 'a password that breaks the URL',
      entry: 'scripts/preflight.ts',
      args: ['--json'],
      exit: 2,
      env: () => ({ DATABASE_URL: `postgres://pulse:pa#ss@${db().host}:${db().port}/${db().database}` }),
    },
    {
      name: 'a bad line in .env',
      entry: 'upgrade.ts',
      args: ['--dry-run'],
      exit: 2,
      dotenv: `DATABASE_URL=${'{url}'}\nthis is not a setting\n`,
    },
    {
      name: 'a conflict of flags, without --json',
      entry: 'upgrade.ts',
      args: ['--dry-run', '--rehearse'],
      exit: 2,
      env: () => ({ DATABASE_URL: db().url }),
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const cwd = mkdtempSync(path.join(tmpdir(), 'upkit-inprocess-'));
      if (c.dotenv !== undefined) writeFileSync(path.join(cwd, '.env'), c.dotenv.replace('{url}', db().url));
      const options = { cwd, env: c.env?.() };
      const child = comparable(await runUpkit(c.entry, c.args, options), cwd);
      const first = comparable(await runInProcess(c.entry, c.args, options), cwd);
      const second = comparable(await runInProcess(c.entry, c.args, options), cwd);
      expect(first).toEqual(child);
      expect(second).toEqual(child);
      expect(child.code, child.stderr).toBe(c.exit);
    });
  }
});
