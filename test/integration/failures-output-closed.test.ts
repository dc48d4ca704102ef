// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): output nobody reads any
// more. stdout and stderr piped into `head -1`, stderr alone into a pipe that closes, the
// --json report into a pipe whose reader has gone. The upgrade runs to the end each time:
// exit 0 from upkit itself, upkit.runs says ok, the database is at the latest release, and
// the log file has every line, the warning about the closed stream included.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { expectCase, failureCase, runsOf, tempDir } from '../failures/check.ts';
import { fill, type Vars } from '../failures/match.ts';
import type { FailureCase } from '../failures/types.ts';
import { ROOT, type RunResult } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, freshInstallFingerprint } from '../support/releases.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';

const UPKIT = [
  process.execPath,
  '--import',
  import.meta.resolve('tsx'),
  path.join(ROOT, 'node_modules/zx/build/cli.js'),
];

type Closing = 'head' | 'stderr' | 'stdout';

/**
 * Runs the case with its output going where nobody reads it: `head` is `2>&1 | head -1` in
 * bash (the exit status is upkit's own, from PIPESTATUS); `stderr` and `stdout` are pipes
 * whose reading end is closed, at once for stdout, after the first line for stderr.
 */
function runClosing(c: FailureCase, vars: Vars, closing: Closing): Promise<RunResult & { vars: Vars }> {
  const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-logs-'));
  const cwd = mkdtempSync(path.join(tmpdir(), 'upkit-case-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NO_COLOR: '1',
    UPKIT_LOG_DIR: logDir,
  };
  for (const [k, v] of Object.entries(c.env ?? {})) env[k] = fill(v, vars);
  const args = [
    ...UPKIT,
    path.join(ROOT, c.entry),
    ...c.args.map((a) => fill(a, vars)),
    ...(c.json === false ? [] : ['--json']),
  ];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child =
      closing === 'head'
        ? // biome-ignore lint/suspicious/noTemplateCurlyInString: bash expands ${PIPESTATUS[0]}, not JavaScript
          spawn('bash', ['-c', '"$@" 2>&1 | head -1 >/dev/null; exit "${PIPESTATUS[0]}"', 'bash', ...args], {
            cwd,
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          })
        : spawn(args[0]!, args.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (closing === 'stdout') child.stdout.destroy();
    else child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    if (closing === 'stderr') {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('\n')) child.stderr.destroy();
      });
    } else child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const logs = () =>
        readdirSync(logDir)
          .map((f) => readFileSync(path.join(logDir, f), 'utf8'))
          .join('\n');
      const logFiles = readdirSync(logDir);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        durationMs: performance.now() - started,
        logDir,
        logs,
        json: <T>() => JSON.parse(stdout) as T,
        vars: { ...vars, cwd, log: logFiles.length === 1 ? path.join(logDir, logFiles[0]!) : '' },
      });
    });
  });
}

/** The log file as the screen would have shown it: warnings with ⚠, errors with ✖, no debug lines. */
function logAsScreen(text: string): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\S+Z (debug|info |warn |error) (.*)$/.exec(line);
    if (!m || m[1] === 'debug') continue;
    const body = m[2]!;
    const level = m[1]!.trim();
    out.push(
      level === 'warn' && !body.startsWith(' ')
        ? `⚠ ${body}`
        : level === 'error' && !body.startsWith(' ')
          ? `✖ ${body}`
          : body,
    );
  }
  return out.join('\n');
}

describe('failure catalogue: closed output', backupTests(), () => {
  const db = useFreshDatabase();

  async function converged(r: RunResult): Promise<void> {
    expect(await runsOf(db().url), r.logs()).toEqual([{ command: 'upgrade', status: 'ok' }]);
    expect(await withClientAt(db().url, (c) => schemaFingerprint(c))).toEqual(await freshInstallFingerprint());
    expect(
      await withClientAt(db().url, (c) => c.query('select count(*)::int as n from drizzle.__drizzle_migrations')),
    ).toMatchObject({ rows: [{ n: 4 }] });
    // The log file tells the whole run, to its last line.
    expect(r.logs()).toMatch(/v2\.2 → v2\.3 in .*: /);
    expect(r.logs()).toMatch(/step verify: ok/);
  }

  it('out.both-closed', async () => {
    await asRelease(db(), 'v2.2');
    const backups = tempDir('upkit-case-bk-');
    const fc = failureCase('out.both-closed');
    const r = await runClosing(fc, { url: db().url, backups }, 'head');
    expect(r.code, r.logs()).toBe(0);
    expectCase({ ...r, stderr: logAsScreen(r.logs()) }, fc, r.vars);
    expect(readdirSync(backups).filter((f) => f.endsWith('.dump'))).toHaveLength(1);
    await converged(r);
  });

  it('out.stderr-closed', async () => {
    await asRelease(db(), 'v2.2');
    const fc = failureCase('out.stderr-closed');
    const r = await runClosing(fc, { url: db().url, backups: tempDir('upkit-case-bk-') }, 'stderr');
    expectCase({ ...r, stderr: logAsScreen(r.logs()) }, fc, r.vars);
    expect(r.json<Report>().status).toBe('ok');
    await converged(r);
    // The runs ledger keeps the warning with the run.
    const kept = await withClientAt(db().url, (c) => c.query(`select report from upkit.runs`));
    expect(JSON.stringify(kept.rows[0].report)).toContain('output.closed');
  });

  it('out.stdout-closed', async () => {
    await asRelease(db(), 'v2.2');
    const fc = failureCase('out.stdout-closed');
    const r = await runClosing(fc, { url: db().url, backups: tempDir('upkit-case-bk-') }, 'stdout');
    expectCase(r, fc, r.vars);
    await converged(r);
    // The report stdout could not take is in the log file.
    expect(r.logs()).toMatch(/report: \{"tool":"upkit".*"status":"ok"/);
    expect(logAsScreen(r.logs())).toContain(`⚠ ${fill(fc.message, r.vars)}`);
  });
});
