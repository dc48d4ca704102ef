// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the log folder's retention.
// A value of UPKIT_LOG_KEEP that is not valid stops the command before anything runs and
// deletes nothing; a file upkit cannot prove it wrote is kept and named. And real runs
// (an upgrade, then verify) prune the folder to the newest UPKIT_LOG_KEEP files, keeping the
// file of a run that still goes on.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pidNamespace } from '../../lib/logRetention.ts';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

const PIDNS = pidNamespace();
/** The pid of a process that has ended. */
const DEAD = spawnSync('true').pid!;

/** A log file as an earlier upkit run on this host left it: header, a line, and its closing line when it ended. */
function seed(dir: string, command: string, day: number, options: { pid?: number; closed?: boolean } = {}): string {
  const pid = options.pid ?? DEAD;
  const name = `${command}-202601${String(day).padStart(2, '0')}T000000Z-${pid}.log`;
  const header = JSON.stringify({ command, pid, host: hostname(), pidns: PIDNS });
  const lines = [
    `2026-01-01T00:00:00.000Z info  upkit log ${header}`,
    '2026-01-01T00:00:00.001Z info  step verify: ok',
  ];
  if (options.closed !== false) lines.push('2026-01-01T00:00:01.000Z info  upkit log closed');
  writeFileSync(path.join(dir, name), `${lines.join('\n')}\n`, { mode: 0o600 });
  return name;
}

const ends = new Set<() => void>();
afterAll(() => {
  for (const end of ends) end();
});

describe('failure catalogue: logs', () => {
  const db = useFreshDatabase();

  it('logs.keep-invalid', async () => {
    const c = failureCase('logs.keep-invalid');
    const logs = tempDir('upkit-case-logs-');
    const seeded = [1, 2, 3].map((d) => seed(logs, 'upgrade', d));
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, logs });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    // Nothing deleted: the three older files and this run's own.
    const left = readdirSync(logs);
    expect(left).toEqual(expect.arrayContaining(seeded));
    expect(left).toHaveLength(4);
  });

  it('logs.foreign-file', async () => {
    await asRelease(db(), 'v2.3');
    const c = failureCase('logs.foreign-file');
    const logs = tempDir('upkit-case-logs-');
    // Written before upkit had retention: its first line is not upkit's header.
    const foreign = 'verify-20250101T000000Z-4242.log';
    writeFileSync(
      path.join(logs, foreign),
      '2025-01-01T00:00:00.000Z debug upkit 0.1.0 verify  (node v20.12.0, pid 4242)\n',
    );
    const [oldest, older, newest] = [1, 2, 3].map((d) => seed(logs, 'verify', d));
    const r = await runCase(c, { url: db().url, logs });
    expectCase(r, c, r.vars);
    const left = readdirSync(logs).sort();
    expect(left).toHaveLength(3);
    expect(left).toEqual(expect.arrayContaining([foreign, newest!]));
    expect(left.filter((f) => f !== foreign && f !== newest)).toEqual([
      expect.stringMatching(/^verify-\d{8}T\d{6}Z-\d+\.log$/),
    ]);
    expect(left).not.toContain(oldest);
    expect(left).not.toContain(older);
    expect(readFileSync(path.join(logs, foreign), 'utf8')).toContain('pid 4242');
  });
});

describe('log retention in real runs', () => {
  const db = useFreshDatabase();

  it(
    'an upgrade, then verify, keep the newest UPKIT_LOG_KEEP files, ' + 'and never the file of a run still going',
    async () => {
      await asRelease(db(), 'v2.2');
      const logs = tempDir('upkit-logs-');
      const running = spawn('sleep', ['600'], { stdio: 'ignore' });
      ends.add(() => running.kill('SIGKILL'));
      await new Promise((r) => running.once('spawn', r));
      // The oldest file is that of an upgrade still running (its process lives, no closing line).
      const live = seed(logs, 'upgrade', 1, { pid: running.pid!, closed: false });
      const crashed = seed(logs, 'upgrade', 2, { closed: false });
      const ended = [3, 4, 5, 6].map((d) => seed(logs, 'upgrade', d));
      const env = {
        DATABASE_URL: db().url,
        BACKUP_DIR: tempDir('upkit-backups-'),
        UPKIT_LOG_DIR: logs,
        UPKIT_LOG_KEEP: '3',
      };
      const upgrade = await runUpkit('upgrade.ts', ['--yes', ...backupArgs()], { env });
      expect(upgrade.code, upgrade.stderr).toBe(0);
      const seeded = new Set([live, crashed, ...ended]);
      const upgradeLog = readdirSync(logs).find((f) => f.startsWith('upgrade-') && !seeded.has(f))!;
      expect(readdirSync(logs).sort()).toEqual([live, ended[2]!, ended[3]!, upgradeLog].sort());
      const text = readFileSync(path.join(logs, upgradeLog), 'utf8');
      expect(text).toContain(`log retention (UPKIT_LOG_KEEP 3): deleted ${ended[1]}, ${ended[0]}, ${crashed}`);
      expect(text.split('\n')[0]).toMatch(/^\S+Z info {2}upkit log \{"command":"upgrade","pid":\d+,/);
      expect(text.endsWith(' info  upkit log closed\n')).toBe(true);

      // verify, another process: the upgrade's file has ended too; the live one is still kept.
      const verify = await runUpkit('verify/index.ts', [], {
        env: { DATABASE_URL: db().url, UPKIT_LOG_DIR: logs, UPKIT_LOG_KEEP: '3' },
      });
      expect(verify.code, verify.stderr).toBe(0);
      const verifyLog = readdirSync(logs).find((f) => f.startsWith('verify-'))!;
      expect(readdirSync(logs).sort()).toEqual([live, ended[3]!, upgradeLog, verifyLog].sort());

      // Once that run has ended, the next run deletes its file as well.
      running.kill('SIGKILL');
      await new Promise((r) => running.once('exit', r));
      const status = await runUpkit('scripts/status.ts', [], {
        env: { DATABASE_URL: db().url, UPKIT_LOG_DIR: logs, UPKIT_LOG_KEEP: '3' },
      });
      expect(status.code, status.stderr).toBe(0);
      expect(readdirSync(logs)).not.toContain(live);
      expect(readdirSync(logs)).toHaveLength(3);
    },
  );

  it(
    'a run over targets: UPKIT_LOG_KEEP that is not valid stops it ' +
      'before any target runs; a valid one keeps every file of the run',
    async () => {
      const cwd = tempDir('upkit-targets-');
      writeFileSync(
        path.join(cwd, 'upkit.targets.json'),
        JSON.stringify({
          targets: [
            { name: 'one', url: 'ONE_DATABASE_URL', profile: 'pulse' },
            { name: 'two', url: 'ONE_DATABASE_URL', profile: 'pulse' },
          ],
        }),
      );
      const logs = tempDir('upkit-logs-');
      const seeded = [1, 2, 3].map((d) => seed(logs, 'status', d));
      const env = { ONE_DATABASE_URL: db().url, UPKIT_LOG_DIR: logs };
      const refused = await runUpkit('scripts/status.ts', ['--all'], { cwd, env: { ...env, UPKIT_LOG_KEEP: '0' } });
      expect(refused.code, refused.stderr).toBe(2);
      // One line for the whole run, before any target's (whose lines start with its name).
      expect(refused.stderr.match(/✖ .*/g)).toEqual([
        '✖ UPKIT_LOG_KEEP: must be a whole number above 0 or all, got "0"',
      ]);
      expect(refused.stderr).not.toMatch(/^one /m);
      expect(readdirSync(logs)).toEqual(expect.arrayContaining(seeded));
      expect(readdirSync(logs)).toHaveLength(4);
      expect(
        await withClientAt(
          db().url,
          async (c) => (await c.query(`select count(*)::int as n from pg_namespace where nspname = 'upkit'`)).rows[0].n,
        ),
      ).toBe(0);

      const before = new Set(readdirSync(logs));
      const r = await runUpkit('scripts/status.ts', ['--all'], { cwd, env: { ...env, UPKIT_LOG_KEEP: '1' } });
      expect(r.code, r.stderr).toBe(0);
      // The run's own three files (the whole run's, one per target) are kept, open while it ran; every older one went.
      const left = readdirSync(logs).sort();
      expect(left.filter((f) => before.has(f))).toEqual([]);
      expect(left.map((f) => f.replace(/-\d{8}T\d{6}Z-\d+(-\d+)?\.log$/, ''))).toEqual([
        'status',
        'status',
        'status-targets',
      ]);
    },
  );

  it('keeps 100 files by default, and every file with UPKIT_LOG_KEEP=all', async () => {
    const logs = tempDir('upkit-logs-');
    for (let d = 1; d <= 28; d++) for (const c of ['upgrade', 'verify', 'status', 'backup']) seed(logs, c, d);
    expect(readdirSync(logs)).toHaveLength(112);
    const all = await runUpkit('scripts/status.ts', [], {
      env: { DATABASE_URL: db().url, UPKIT_LOG_DIR: logs, UPKIT_LOG_KEEP: 'all' },
    });
    expect(all.code, all.stderr).toBe(0);
    expect(readdirSync(logs)).toHaveLength(113);
    const byDefault = await runUpkit('scripts/status.ts', [], { env: { DATABASE_URL: db().url, UPKIT_LOG_DIR: logs } });
    expect(byDefault.code, byDefault.stderr).toBe(0);
    const left = readdirSync(logs);
    expect(left).toHaveLength(100);
    // The oldest days went first: none of days 1 to 3 is left, every file of days 4 to 28 is.
    expect(left.filter((f) => /-2026010[123]T/.test(f))).toEqual([]);
    expect(left.filter((f) => /-202601(0[4-9]|[12]\d)T/.test(f))).toHaveLength(100 - 2);
  });
});
