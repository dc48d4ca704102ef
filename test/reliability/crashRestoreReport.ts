// The in-place restore campaign of `npm run test:crash` (crashRestore.ts): prints a line per
// run and writes its own RELIABILITY.md section.
import type { CampaignOptions, CrashServer, Launcher } from './crashHarness.ts';
import {
  calibrateRestore,
  drawRestoreRun,
  RESTORE_PHASES,
  restoreKillAndRecover,
  type RestoreKillResult,
} from './crashRestore.ts';
import { machineLine, writeReliabilitySection } from './report.ts';

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

export async function restoreCampaign(
  server: CrashServer,
  seed: number,
  runs: number,
  options: CampaignOptions,
  launcher: Launcher,
  users: number,
): Promise<RestoreKillResult[]> {
  if (runs === 0) return [];
  const started = performance.now();
  const cal = await calibrateRestore(server, options);
  console.log(
    `calibrated in-place restore ${fmt(cal.totalMs)}: ` +
      `${cal.windows.map((w) => `${w.phase} ${fmt(w.endMs - w.startMs)}`).join(', ')}`,
  );
  const results: RestoreKillResult[] = [];
  for (let n = 1; n <= runs; n++) {
    const plan = drawRestoreRun(seed, n);
    const r = await restoreKillAndRecover(server, plan, cal, options);
    results.push(r);
    const where = r.killedAtMs === null ? 'ended before the kill' : `killed at ${fmt(r.killedAtMs)} in ${r.phaseHit}`;
    console.log(
      `restore ${String(n).padStart(3)}  aim ${r.aimedAt} +${r.offsetMs} ms  ${where}  left ${r.left}  status: ` +
        `${r.detected.join(', ') || 'nothing to report'}  ${r.commands.join('; ') || 'no command needed'}` +
        `  ${r.converged ? 'recovered' : 'NOT RECOVERED'}  rows lost ${r.rowsLost}`,
    );
    for (const p of r.problems) console.log(`    ✖ ${p}`);
  }
  const ok = (k: RestoreKillResult) => k.converged && k.rowsLost === 0;
  const rowsBy = (pick: (k: RestoreKillResult) => string, order: readonly string[]) =>
    order
      .map((key) => {
        const hit = results.filter((k) => pick(k) === key);
        return hit.length
          ? `| ${key} | ${hit.length} | ${hit.filter(ok).length} | ${hit.reduce((a, k) => a + k.rowsLost, 0)}` +
              ` | ${Math.max(...hit.map((k) => k.commandsToAccept))} |`
          : undefined;
      })
      .filter(Boolean);
  const summary = [
    '| measure | result |',
    '| --- | --- |',
    `| runs | ${results.length} (${results.filter((k) => k.killedAtMs !== null).length} killed, ` +
      `${results.filter((k) => k.killedAtMs === null).length} ended before their kill) |`,
    `| recovered (live database accepts connections, no restore copy left, ` +
      `run lock free) | ${results.filter((k) => k.converged).length} of ${results.length} |`,
    `| rows lost (the live database holds its rows, or the backup's with the ` +
      `replaced one kept beside it) | ${results.reduce((a, k) => a + k.rowsLost, 0)} |`,
    `| upkit commands that changed something before the live database accepted ` +
      `connections | at most ${Math.max(0, ...results.map((k) => k.commandsToAccept))}` +
      ` (\`npx zx scripts/restore.ts --recover\`, named by \`scripts/status.ts\`) |`,
  ].join('\n');
  const head =
    '| %s | runs | recovered | rows lost | commands until it accepts connections |\n| --- | --- | --- | --- | --- |';
  const phases = [
    head.replace('%s', "phase hit (from the killed restore's log)"),
    ...rowsBy((k) => k.phaseHit, [...RESTORE_PHASES, 'finished']),
  ].join('\n');
  const lefts = [
    head.replace('%s', 'what the kill left (read before any command)'),
    ...rowsBy((k) => k.left, ['nothing', 'a restore copy', 'the live database refusing connections', 'the swap done']),
  ].join('\n');
  const failed = results.filter((k) => !ok(k));
  const verdict =
    failed.length === 0
      ? '**Every killed restore was recovered with every row kept.**'
      : `**${failed.length} run(s) failed a check** (see the command's output for each).`;
  console.log(`\n${summary}\n\n${phases}\n\n${lefts}\n\n${verdict}`);
  const minutes = (performance.now() - started) / 60_000;
  const aims = results.filter((k) => k.aimedAt === 'swap').length;
  const watched = results.filter((k) => k.aimedAt === 'connections off').length;
  writeReliabilitySection(
    'Crash injection: in-place restores',
    [
      `\`npm run test:crash -- --runs 0 --server-kills 0 --restores ${runs} --seed ${seed}` +
        `${launcher === 'npx' ? '' : ' --launcher node'}` +
        `${users === 40 ? '' : ` --users ${users}`}\`, ${minutes.toFixed(1)} minutes.`,
      `Each run builds a v2.3 install with ${users} users of fixture data, backs it up, deletes half of its ` +
        `audit log (so that the live database and the backup differ), starts \`npx zx scripts/restore.ts FILE ` +
        `--yes\` in a process group of its own and sends SIGKILL to the group at a seeded point: ` +
        `${watched} of ${results.length} runs are killed from the server's side the moment it shows the live ` +
        `database refusing connections (the swap's window), ${aims} aim at the swap step (a drawn point of its ` +
        `calibrated length: its checks, the copy's marker, connections off, the sessions ended, the renames), ` +
        `the others at a phase of an uninterrupted calibration run (${fmt(cal.totalMs)}). Then the operator's path: ` +
        `\`scripts/status.ts\` says what the kill left, and the one command it names, if any, is run. ` +
        `Afterwards the live database must accept connections, no \`<db>_restore_<time>\` copy may be left, ` +
        `the run lock must be free, and no row may be lost: the live database holds either the rows it had, ` +
        `or the backup's rows with the database it replaced kept ` +
        `as \`<db>_before_restore_<time>\` with every row it had.`,
      machineLine(),
      summary,
      phases,
      lefts,
      verdict,
    ].join('\n\n'),
  );
  return results;
}
