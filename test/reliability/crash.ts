// npm run test:crash -- [--runs 50] [--seed N] [--server-kills 4]
// [--restores 20] [--only RUN] [--launcher npx|node] [--users 40]
//
// Crash injection on a throwaway cluster of this machine's PostgreSQL: `--runs` upgrades from
// seeded random releases (with data) killed with SIGKILL at a seeded random point, each rerun
// and checked (crashHarness.ts); then `--server-kills` upgrades caught mid-migration while
// PostgreSQL itself is killed (crashServerKill.ts). Prints a line per run and a summary,
// writes it to RELIABILITY.md ("Crash injection"), and exits 1 on any run that did not
// converge, lost a row or broke another check. The same --seed draws the same releases,
// phases and offsets; `--only RUN` replays one run of that seed. `--restores` in-place
// restores are killed the same way and recovered as status says (crashRestore.ts), written to
// their own section ("Crash injection: in-place restores").
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  calibrate,
  CRASH_RELEASES,
  DEFAULT_SEED,
  drawRun,
  killAndRerun,
  newTmpDir,
  warmUp,
  type CampaignOptions,
  type Calibration,
  type KillResult,
  type Launcher,
} from './crashHarness.ts';
import { PHASES } from './crashPhases.ts';
import { SERVER_KILLS, serverKillAndRerun, startCluster, type ServerKillResult } from './crashServerKill.ts';
import { restoreCampaign } from './crashRestoreReport.ts';
import { machineLine, writeReliabilitySection } from './report.ts';
import type { FixtureRelease } from '../support/releases.ts';

function usage(message: string): never {
  console.error(
    `${message}\nusage: npm run test:crash -- [--runs 50] [--seed N] [--server-kills ` +
      `${SERVER_KILLS.length}] [--restores 20] [--only RUN] [--launcher npx|node] [--users 40]`,
  );
  process.exit(2);
}

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        runs: { type: 'string', default: '50' },
        seed: { type: 'string', default: String(DEFAULT_SEED) },
        'server-kills': { type: 'string', default: String(SERVER_KILLS.length) },
        restores: { type: 'string', default: '20' },
        only: { type: 'string' },
        launcher: { type: 'string', default: 'npx' },
        users: { type: 'string', default: '40' },
      },
      strict: true,
    });
  } catch (err) {
    return usage((err as Error).message);
  }
})();
const { values } = parsed;
const whole = (flag: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) usage(`--${flag} ${v}: give a whole number of at least ${min}`);
  return n;
};
const runs = whole('runs', values.runs, 0);
const seed = whole('seed', values.seed, 0);
const serverKills = whole('server-kills', values['server-kills'], 0);
const restores = whole('restores', values.restores, 0);
const only = values.only === undefined ? undefined : whole('only', values.only, 1);
const users = whole('users', values.users, 1);
if (values.launcher !== 'npx' && values.launcher !== 'node') usage(`--launcher ${values.launcher}: npx or node`);
const launcher = values.launcher as Launcher;

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

const cluster = await startCluster();
const started = performance.now();
const options: CampaignOptions = { launcher, data: { users }, tmpDir: newTmpDir() };
try {
  await warmUp(options);
  console.log(
    `crash injection: seed ${seed}, ${only ? `run ${only} only` : `${runs} runs, ${serverKills} server kills`}, ` +
      `launcher ${launcher}, ${users} users per fixture, PostgreSQL ${cluster.handle.version}`,
  );

  const calibrations = new Map<FixtureRelease, Calibration>();
  const calibrationFor = async (release: FixtureRelease): Promise<Calibration> => {
    let c = calibrations.get(release);
    if (!c) {
      c = await calibrate(cluster.server, release, options);
      calibrations.set(release, c);
      console.log(
        `calibrated ${release.padEnd(5)} ${fmt(c.totalMs)}: ` +
          `${c.windows.map((w) => `${w.phase} ${fmt(w.endMs - w.startMs)}`).join(', ')}`,
      );
    }
    return c;
  };

  const kills: KillResult[] = [];
  const numbers = only ? [only] : Array.from({ length: runs }, (_, i) => i + 1);
  for (const n of numbers) {
    const plan = drawRun(seed, n);
    const r = await killAndRerun(cluster.server, plan, await calibrationFor(plan.release), options);
    kills.push(r);
    const where =
      r.phaseHit === 'finished'
        ? `ended before the kill${r.killedAtMs === null ? '' : ` landed (sent at ${fmt(r.killedAtMs)})`}`
        : `killed at ${fmt(r.killedAtMs!)} in ${r.phaseHit}`;
    console.log(
      `run ${String(n).padStart(3)}  ${plan.release.padEnd(5)}  aim ${r.aimedAt} +${r.offsetMs}` +
        ` ms  ${where}${r.hadRunRow ? ' (its run: crashed)' : ''}  rerun exit ${r.rerunCode} in ` +
        `${fmt(r.rerunMs)}  ${r.converged ? 'converged' : 'NOT CONVERGED'}  rows lost ${r.rowsLost}`,
    );
    for (const p of r.problems) console.log(`    ✖ ${p}`);
  }

  const serverResults: ServerKillResult[] = [];
  for (let i = 0; i < (only ? 0 : serverKills); i++) {
    const scenario = SERVER_KILLS[i % SERVER_KILLS.length]!;
    const r = await serverKillAndRerun(cluster, scenario, options);
    serverResults.push(r);
    console.log(
      `server kill ${i + 1}: ${scenario.name} (${scenario.release})  upkit exit ${r.exitCode}` +
        ` (expected ${r.expectedExit})  back in ${fmt(r.restartMs)}  rerun exit ` +
        `${r.rerunCode}  ${r.converged ? 'converged' : 'NOT CONVERGED'}  rows lost ${r.rowsLost}`,
    );
    console.log(`    ${r.errorLine}`);
    for (const p of r.problems) console.log(`    ✖ ${p}`);
  }

  const failed = [
    ...kills.filter((k) => k.problems.length || !k.converged || k.rowsLost),
    ...serverResults.filter((s) => s.problems.length || !s.converged || s.rowsLost),
  ];
  const killed = kills.filter((k) => k.phaseHit !== 'finished');
  const phaseRows = [...PHASES, 'finished' as const]
    .map((phase) => {
      const hit = kills.filter((k) => k.phaseHit === phase);
      if (!hit.length) return undefined;
      return (
        `| ${phase === 'finished' ? 'none (ended before the kill)' : phase} | ` +
        `${hit.length} | ${hit.filter((k) => k.converged).length} | ${hit.reduce((a, k) => a + k.rowsLost, 0)}` +
        ` | ${hit.filter((k) => k.hadRunRow).length} |`
      );
    })
    .filter(Boolean);
  const summary = [
    '| measure | result |',
    '| --- | --- |',
    `| runs | ${kills.length} (${killed.length} killed, ${kills.length - killed.length} ended before their kill) |`,
    `| releases | ` +
      `${CRASH_RELEASES.map((rel) => `${rel} ${kills.filter((k) => k.plan.release === rel).length}`).join(', ')} |`,
    `| converged (rerun exit 0, schema of a fresh install) ` +
      `| ${kills.filter((k) => k.converged).length} of ${kills.length} |`,
    `| rows lost or changed beyond the documented transforms | ${kills.reduce((a, k) => a + k.rowsLost, 0)} |`,
    `| other problems (lock, ledgers, runs, backups, leftovers) ` +
      `| ${kills.reduce((a, k) => a + k.problems.length, 0)} |`,
    `| server kills | ${serverResults.length}: ` +
      `${serverResults.filter((s) => s.exitCode === s.expectedExit).length} with the documented exit code, ` +
      `${serverResults.filter((s) => s.converged).length} converged, ` +
      `${serverResults.reduce((a, s) => a + s.rowsLost, 0)} rows lost |`,
  ].join('\n');
  const phases = [
    '| phase hit | runs | converged | rows lost | killed run marked crashed |',
    '| --- | --- | --- | --- | --- |',
    ...phaseRows,
  ].join('\n');
  const servers = serverResults.length
    ? [
        '| server kill | from | upkit exit (expected) | back in | rerun | converged | rows lost |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...serverResults.map(
          (s) =>
            `| ${s.scenario.name} | ${s.scenario.release} | ${s.exitCode} (${s.expectedExit}) ` +
            `| ${fmt(s.restartMs)} | exit ${s.rerunCode} | ${s.converged ? 'yes' : '**no**'} | ${s.rowsLost} |`,
        ),
      ].join('\n')
    : '';
  const firstOfEach = [...new Map(serverResults.map((s) => [s.scenario.name, s])).values()];
  const errorLine = (s: (typeof serverResults)[number]) =>
    s.errorLine.replace(/127\.0\.0\.1:\d+/, 'HOST:PORT').replace(/\/tmp\/[^ ]+/, 'BACKUP');
  const said = serverResults.length
    ? `What upkit said when the server went away (first of each kind):\n` +
      `\n${firstOfEach.map((s) => `- \`${errorLine(s)}\``).join('\n')}`
    : '';
  const verdict =
    failed.length === 0
      ? '**Every run converged with every row kept.**'
      : `**${failed.length} run(s) failed a check** (see the command's output for each).`;
  console.log(`\n${summary}\n\n${phases}\n\n${servers}\n\n${verdict}`);

  const restoreResults = only ? [] : await restoreCampaign(cluster.server, seed, restores, options, launcher, users);
  const restoresFailed = restoreResults.filter((k) => k.problems.length || !k.converged || k.rowsLost);

  if (!only && (runs > 0 || serverKills > 0)) {
    const minutes = (performance.now() - started) / 60_000;
    const body = [
      `\`npm run test:crash -- --runs ${runs} --seed ${seed} --server-kills ${serverKills}` +
        `${launcher === 'npx' ? '' : ' --launcher node'}${users === 40 ? '' : ` --users ${users}`}\` on a ` +
        `throwaway PostgreSQL ${cluster.handle.version} cluster, ${minutes.toFixed(1)} minutes in all.`,
      `Each run builds a release drawn from the seed (empty, v1.0 … v2.2, with ${users} users of fixture data), ` +
        `starts \`${launcher === 'npx' ? 'npx zx upgrade.ts' : 'node … zx upgrade.ts'} --yes --json --backup-dir ` +
        `DIR\` in a process group of its own, and sends SIGKILL to the group at a drawn point: a phase of that ` +
        `release's uninterrupted calibration run, and an offset inside it, counted from the moment the run's own log ` +
        `shows the phase beginning. The phase hit is read from the killed run's log. The rerun must exit 0 and leave ` +
        `the schema of a fresh install, every row (up to the documented transforms), no INVALID index, the run lock ` +
        `free, drizzle's ledger with one row per entry, no parts pending, the killed run marked \`crashed\`, ` +
        `only verified backups, and nothing new in TMPDIR. Server kills catch a migration waiting on a lock held by ` +
        `another session, then kill -9 the postmaster (restarted with pg_ctl) or upkit's backend (PostgreSQL ` +
        `restarts by itself); upkit must print one error line with the ` +
        `documented exit code and, after changes began, the restore command.`,
      machineLine(),
      summary,
      phases,
      servers,
      said,
      verdict,
    ]
      .filter(Boolean)
      .join('\n\n');
    writeReliabilitySection('Crash injection', body);
  }
  process.exitCode = failed.length === 0 && restoresFailed.length === 0 ? 0 : 1;
} finally {
  rmSync(options.tmpDir, { recursive: true, force: true });
  await cluster.stop().catch((err: Error) => console.error(`stopping the cluster: ${err.message}`));
}
