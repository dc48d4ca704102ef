// npm run test:soak -- [--runs 200]: consecutive no-op upgrades and verifies against one
// database (a throwaway cluster from this machine's PostgreSQL, or BENCH_DATABASE_URL's server),
// checking after each that nothing grew. Writes the figures to RELIABILITY.md; exits 1 on a leak.
import { parseArgs } from 'node:util';
import { benchServer, recreateDatabase } from '../../bench/support.ts';
import { machineLine, writeReliabilitySection } from './report.ts';
import { percentile, prepareSoakDatabase, soak } from './soakHarness.ts';
import { plural } from '../../lib/plural.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' } }, strict: true });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs ${values.runs}: give a whole number of runs, e.g. --runs 200`);
  process.exit(2);
}

const server = await benchServer();
try {
  const url = await recreateDatabase(server, 'upkit_soak');
  await prepareSoakDatabase(url);
  const started = performance.now();
  const result = await soak({
    url,
    runs,
    onRun: (s) => {
      if (s.command === 'verify' && (s.index % 20 === 0 || s.index === runs)) {
        console.log(
          `run ${s.index}/${runs}: upkit.runs ${s.runsRows} rows, ${s.sessions} sessions, ` +
            `${s.advisoryLocks} advisory locks, ${s.tmpFiles} tmp files, ${s.logFiles} log files`,
        );
      }
    },
  });
  const minutes = (performance.now() - started) / 60_000;
  const last = result.samples.at(-1)!;
  const ms = (v: number) => `${Math.round(v)} ms`;
  const rows = [
    [
      'no-op upgrades / verifies',
      `${result.upgradeMs.length} / ${result.verifyMs.length} (exit 0: ` +
        `${result.samples.filter((s) => s.code === 0).length} of ${result.samples.length})`,
    ],
    [
      'upkit.runs rows',
      `${result.baseline.runsRows} before, ${last.runsRows} after (a no-op upgrade adds none; verify never writes)`,
    ],
    [
      'sessions on the database after each run',
      `baseline ${result.baseline.sessions}, most seen ${Math.max(...result.samples.map((s) => s.sessions))}`,
    ],
    ['advisory locks after each run', `most seen ${Math.max(...result.samples.map((s) => s.advisoryLocks))}`],
    ['prepared transactions', `most seen ${Math.max(...result.samples.map((s) => s.preparedXacts))}`],
    [
      'orphaned server temporary files (pg_ls_tmpdir, backend gone)',
      `most seen ${Math.max(...result.samples.map((s) => s.serverTempFiles))}`,
    ],
    [
      'files left in TMPDIR',
      `most seen ${Math.max(...result.samples.map((s) => s.tmpFiles))}; the TypeScript loader's compile cache: ` +
        `${result.samples[0]!.loaderCacheFiles} files after the first run, ${last.loaderCacheFiles} after the last`,
    ],
    ['backups written', `${last.backupFiles} (nothing was pending)`],
    [
      'log files',
      `${last.logFiles} (one per run, the newest 100 kept: UPKIT_LOG_KEEP), ` +
        `${(last.logBytes / last.logFiles / 1024).toFixed(1)} KB each on average`,
    ],
    [
      'no-op upgrade, p50 / p95 / max',
      `${ms(percentile(result.upgradeMs, 50))}` +
        ` / ${ms(percentile(result.upgradeMs, 95))} / ${ms(Math.max(...result.upgradeMs))}`,
    ],
    [
      'verify, p50 / p95 / max',
      `${ms(percentile(result.verifyMs, 50))}` +
        ` / ${ms(percentile(result.verifyMs, 95))} / ${ms(Math.max(...result.verifyMs))}`,
    ],
    [
      'first vs last 20 upgrades, median',
      `${ms(percentile(result.upgradeMs.slice(0, 20), 50))} vs ${ms(percentile(result.upgradeMs.slice(-20), 50))}`,
    ],
  ];
  const table = ['| measure | result |', '| --- | --- |', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
  const verdict =
    result.problems.length === 0
      ? '**Clean**: nothing grew.'
      : `**${plural(result.problems.length, 'problem')}**:\n\n${result.problems.map((p) => `- ${p}`).join('\n')}`;
  const body =
    `\`npm run test:soak -- --runs ${runs}\`: ${runs} consecutive no-op \`upgrade.ts --yes --json\` and ` +
    `\`verify/index.ts --json\` runs against one database at the latest release (Pulse v1.0 with data, upgraded once ` +
    `before the soak), each spawned as an operator runs it, on PostgreSQL ${server.version}; ${minutes.toFixed(1)}` +
    ` minutes in all. After every run: rows in upkit.runs, sessions on the database, advisory locks, ` +
    `prepared transactions, \`pg_ls_tmpdir()\`, files in the runs' TMPDIR ` +
    `and backup directory.\n\n${machineLine()}\n\n${table}\n\n${verdict}`;
  writeReliabilitySection('Soak', body);
  console.log(`\n${table}\n\n${verdict}`);
  process.exitCode = result.problems.length === 0 ? 0 : 1;
} finally {
  await server.stop();
}
