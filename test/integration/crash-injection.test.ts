// Crash injection, the small count of the normal suite (npm run test:crash runs the full
// campaign): upgrades killed with SIGKILL at seeded random points and rerun, a run killed
// during its verification, and PostgreSQL killed mid-migration on a cluster of its own.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLabel, processSpace, sweepPartials } from '../../lib/backup/partial.ts';
import { backupTests, serverInfo } from '../support/database.ts';
import {
  calibrate,
  crashServer,
  DEFAULT_SEED,
  drawRun,
  killAndRerun,
  newTmpDir,
  warmUp,
  type CampaignOptions,
  type Calibration,
  type CrashServer,
} from '../reliability/crashHarness.ts';
import { phaseReached, phaseWindows } from '../reliability/crashPhases.ts';
import { SERVER_KILLS, serverKillAndRerun, startCluster } from '../reliability/crashServerKill.ts';
import {
  calibrateRestore,
  drawRestoreRun,
  killWhileRefusing,
  restoreKillAndRecover,
} from '../reliability/crashRestore.ts';
import { SMALL } from '../support/fixtureData.ts';

describe('crash injection', () => {
  let server: CrashServer;
  const options: CampaignOptions = { launcher: 'node', data: SMALL, tmpDir: newTmpDir() };

  beforeAll(async () => {
    server = crashServer(serverInfo().adminUrl);
    await warmUp(options);
  });
  afterAll(() => rmSync(options.tmpDir, { recursive: true, force: true }));

  it('reads the phase a run reached from its log', () => {
    const log = [
      '2026-11-24T08:21:29.247Z debug upkit 0.1.0 upgrade "--yes" (node v20.20.2, pid 1)',
      '2026-11-24T08:21:29.250Z debug content: 4 drizzle entries',
      '2026-11-24T08:21:29.260Z debug run lock taken on pulse',
      '2026-11-24T08:21:29.535Z info  plan: pulse v1.0 → v2.3',
      '2026-11-24T08:21:29.540Z debug recorded in upkit.runs as run 1b2c',
      '2026-11-24T08:21:30.142Z info  step verify backup: started',
      '2026-11-24T08:21:30.212Z info  step legacy: comprehensive-upgrade.sql (fallback: upgrade.sql): started',
      '2026-11-24T08:21:30.244Z info  step legacy: ' +
        'comprehensive-upgrade.sql (fallback: upgrade.sql): ok - now at v1.4 (32 ms)',
      '2026-11-24T08:21:30.267Z info  step drizzle: 0001_api_keys (6 statements): started',
      '2026-11-24T08:21:30.284Z info  step seed data for v2.3: started',
      '2026-11-24T08:21:30.287Z info  step verify: started',
    ];
    const upTo = (n: number) => log.slice(0, n).join('\n');
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((n) => phaseReached(upTo(n)))).toEqual([
      'before start',
      'start-up',
      'lock',
      'inspect',
      'checks, runs ledger',
      'backup',
      'backup',
      'legacy',
      'legacy',
      'drizzle',
      'seed',
      'verify',
    ]);
    const spawned = Date.parse('2026-11-24T08:21:28.747Z');
    const windows = phaseWindows(
      `${upTo(11)}\n2026-11-24T08:21:30.300Z info  step verify: ok (13 ms)`,
      spawned,
      spawned + 1600,
    );
    expect(windows.map((w) => w.phase)).toEqual([
      'before start',
      'start-up',
      'lock',
      'inspect',
      'checks, runs ledger',
      'backup',
      'legacy',
      'drizzle',
      'seed',
      'verify',
      'finish',
    ]);
    expect(windows[0]).toEqual({ phase: 'before start', startMs: 0, endMs: 500 });
    expect(windows.at(-1)).toEqual({ phase: 'finish', startMs: 1553, endMs: 1600 });
  });

  // The campaign's kills land in every phase, the backup's included, and its checks name the backup.
  it(`three upgrades killed at seeded random points (seed ${DEFAULT_SEED}, ` +
    `runs 1-3) converge on the rerun with every row`, {
    ...backupTests(),
    timeout: 150_000,
  }, async () => {
    const calibrations = new Map<string, Calibration>();
    for (const n of [1, 2, 3]) {
      const plan = drawRun(DEFAULT_SEED, n);
      if (!calibrations.has(plan.release))
        calibrations.set(plan.release, await calibrate(server, plan.release, options));
      const r = await killAndRerun(server, plan, calibrations.get(plan.release)!, options);
      expect(
        r.problems,
        `run ${n} from ${plan.release}, aimed at ${r.aimedAt} +${r.offsetMs} ms, hit ${r.phaseHit}`,
      ).toEqual([]);
      expect(r.converged).toBe(true);
      expect(r.rowsLost).toBe(0);
    }
  });

  it('a run killed during its verification, after its last change, ' +
    'is marked crashed by the rerun that has nothing left to do', {
    ...backupTests(),
    timeout: 120_000,
  }, async () => {
    // Aimed at the first moment of verification; verification is short, so a kill may land
    // just after it: try again until one lands inside.
    const atVerify: Calibration = { release: 'v2.2', totalMs: 0, windows: [{ phase: 'verify', startMs: 0, endMs: 0 }] };
    for (let attempt = 1; ; attempt++) {
      const r = await killAndRerun(server, { ...drawRun(DEFAULT_SEED, 0), release: 'v2.2' }, atVerify, options);
      if (r.phaseHit !== 'verify' && attempt < 6) continue;
      expect(r.phaseHit).toBe('verify');
      expect(r.hadRunRow).toBe(true);
      expect(r.problems).toEqual([]);
      return;
    }
  });

  it(
    'removes a partial backup whose writer is a zombie (a ' + 'run killed with its parent, where nothing reaps it)',
    async () => {
      // perl forks a child that exits at once and never waits for it. (A shell that starts a
      // child and then execs may reap it first, on a loaded machine: /proc/PID is then gone.)
      const sh = spawn(
        'perl',
        ['-e', '$| = 1; my $pid = fork() // die; exit 0 if $pid == 0; print "$pid\n"; sleep 10'],
        {
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      try {
        const pid = Number((await once(sh.stdout!, 'data'))[0].toString().trim());
        const state = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0];
        for (let i = 0; i < 100 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
        expect(state()).toBe('Z');
        const dir = mkdtempSync(path.join(tmpdir(), 'upkit-crash-partials-'));
        const zombie = `pulse-v1.0-20261124T000000Z.dump.${hostLabel()}.${pid}.${processSpace()}.partial`;
        const live = `pulse-v1.0-20261124T000001Z.dump.${hostLabel()}.${sh.pid}.${processSpace()}.partial`;
        for (const f of [zombie, live]) writeFileSync(path.join(dir, f), '');
        expect(sweepPartials(dir).removed.map((p) => p.name)).toEqual([zombie]);
        expect(readdirSync(dir)).toEqual([live]);
        rmSync(dir, { recursive: true, force: true });
      } finally {
        sh.kill('SIGKILL');
      }
    },
  );

  describe('PostgreSQL killed mid-migration', backupTests(), () => {
    let cluster: Awaited<ReturnType<typeof startCluster>>;
    // biome-ignore lint/suspicious/noDuplicateTestHooks: this describe's own (its options come second)
    beforeAll(async () => {
      cluster = await startCluster(serverInfo().binDir ?? undefined);
    });
    // biome-ignore lint/suspicious/noDuplicateTestHooks: this describe's own (its options come second)
    afterAll(async () => {
      await cluster?.stop();
    });

    it('kill -9 of the postmaster during a concurrent index build: one error line, ' +
      'exit 1 naming the backup; after a restart the rerun converges', async () => {
      const scenario = SERVER_KILLS.find((s) => s.how === 'postmaster' && s.changesBegan)!;
      const r = await serverKillAndRerun(cluster, scenario, options);
      expect(r.problems).toEqual([]);
      expect(r.exitCode).toBe(1);
      expect(r.errorLine).toMatch(
        new RegExp(
          String.raw`^✖ lost the connection to PostgreSQL at [\d.]+:\d+ during ` +
            String.raw`0002_audit_logs \(.+\): the server restarted or stopped`,
        ),
      );
      expect(r.hint).toMatch(
        /run the upgrade again: it picks up where it stopped; to go back: npx zx scripts\/restore\.ts \S+\.dump$/,
      );
      expect(r.converged).toBe(true);
      expect(r.rowsLost).toBe(0);
    }, 120_000);
  });

  // In-place restores (npm run test:crash -- --restores 20 runs the campaign): the kill
  // leaves what status must find and the command it names must undo, with every row kept.
  it(`two in-place restores killed at seeded points (seed ${DEFAULT_SEED}, restores 1-2), and one killed ` +
    `while the live database refuses connections, are recovered through status and the command it names`, {
    ...backupTests(),
    timeout: 240_000,
  }, async () => {
    const cal = await calibrateRestore(server, options);
    for (const n of [1, 2]) {
      const r = await restoreKillAndRecover(server, drawRestoreRun(DEFAULT_SEED, n), cal, options);
      expect(
        r.problems,
        `restore ${n}, aimed at ${r.aimedAt} +${r.offsetMs} ms, hit ${r.phaseHit}, left ${r.left}`,
      ).toEqual([]);
      expect(r.rowsLost).toBe(0);
    }
    // The swap's window is milliseconds: watched from the server, the kill lands in it.
    for (let attempt = 1; ; attempt++) {
      const r = await restoreKillAndRecover(
        server,
        drawRestoreRun(DEFAULT_SEED, 1),
        cal,
        options,
        killWhileRefusing(server.adminUrl),
      );
      expect(r.problems).toEqual([]);
      expect(r.rowsLost).toBe(0);
      if (r.left !== 'the live database refusing connections' && attempt < 5) continue;
      expect(r.left).toBe('the live database refusing connections');
      expect(r.detected).toEqual(['restore.interrupted_swap']);
      expect(r.commands).toEqual(['restore.ts --recover: exit 0']);
      expect(r.commandsToAccept).toBe(1);
      break;
    }
  });
});
