// A no-op upgrade against drizzle-kit's no-op migrate, on a database at the latest release,
// measured in the same run: through bin/upkit (compiled modules, and from the sources) and
// through `npx zx upgrade.ts`. Run `npm run build` first (the run refuses to report otherwise). upkit does far more on
// a no-op (config, lock-free inspection of both ledgers and the catalog, hash checks, plan, full verification), so the
// interesting numbers are the whole-command ratio and upkit's own in-process work.
// Run: npm run bench:noop [-- --runs N]. Writes the `noop` section of BENCHMARKS.md.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { VERSION } from '../../lib/cli.ts';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { ReportBuilder } from '../../lib/report.ts';
import { runUpgrade } from '../../lib/upgrade.ts';
import { pulseProfile } from '../../profiles/pulse.ts';
import { buildRelease, DRIZZLE_DIR } from '../../test/support/releases.ts';
import {
  benchServer,
  configFor,
  fmt,
  median,
  recreateDatabase,
  silentLogger,
  time,
  withClient,
  writeSection,
} from '../support.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } }, strict: true });
const runs = Number(values.runs);

const server = await benchServer();
try {
  const url = await recreateDatabase(server, 'bench_noop');
  await withClient(url, (c) => buildRelease(c, 'v2.3'));
  const config = configFor(url);
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATABASE_URL: url,
    NO_COLOR: '1',
    UPKIT_LOG_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bench-noop-logs-')),
  };
  // upkit's own .npmrc sets node-options=--import=tsx for every npm and npx run in its folder,
  // drizzle-kit's included: measured with it (as an operator in this folder runs it) and without.
  const noNpmrcTsx = { ...env, npm_config_node_options: ' ' }; // blank: npm then sets no NODE_OPTIONS
  const commands: Array<{ key: string; label: string; file: string; args: string[]; env: NodeJS.ProcessEnv }> = [
    { key: 'kit', label: '`npx drizzle-kit migrate` (peer)', file: 'npx', args: ['drizzle-kit', 'migrate'], env },
    {
      key: 'kitBare',
      label: "`npx drizzle-kit migrate` without the .npmrc's `--import=tsx`",
      file: 'npx',
      args: ['drizzle-kit', 'migrate'],
      env: noNpmrcTsx,
    },
    {
      key: 'upkit',
      label: '**`bin/upkit upgrade --yes`** (compiled modules, .build/)',
      file: `${PROJECT_ROOT}/bin/upkit`,
      args: ['upgrade', '--yes'],
      env,
    },
    {
      key: 'upkitSrc',
      label: '`bin/upkit upgrade --yes` from the sources (UPKIT_COMPILED=0: tsx on this Node)',
      file: `${PROJECT_ROOT}/bin/upkit`,
      args: ['upgrade', '--yes'],
      env: { ...env, UPKIT_COMPILED: '0' },
    },
    { key: 'zx', label: '`npx zx upgrade.ts --yes`', file: 'npx', args: ['zx', 'upgrade.ts', '--yes'], env },
  ];
  const once = (c: (typeof commands)[number]) => run(c.file, c.args, { cwd: PROJECT_ROOT, env: c.env });
  // One warm-up each: npx resolution and file caches. Then alternating rounds.
  for (const c of commands) await once(c);
  const s: Record<string, number[]> = { orm: [], inproc: [] };
  for (const c of commands) s[c.key] = [];
  for (let i = 0; i < runs; i++) {
    for (const c of commands) s[c.key]!.push((await time(() => once(c))).ms);
    s.orm!.push((await time(() => withClient(url, (c) => migrate(drizzle(c), { migrationsFolder: DRIZZLE_DIR })))).ms);
    s.inproc!.push(
      (
        await time(() =>
          runUpgrade(config, silentLogger('upgrade'), new ReportBuilder('upgrade', VERSION), {
            profile: pulseProfile(),
            dryRun: false,
            allowDestructive: false,
            upkitVersion: VERSION,
            command: 'upgrade',
          }),
        )
      ).ms,
    );
  }
  // The compiled row means something only while .build/ stayed current (no source edited during the run).
  const probe = readdirSync(env.UPKIT_LOG_DIR)
    .filter((f) => f.startsWith('upgrade-'))
    .map((f) => readFileSync(path.join(env.UPKIT_LOG_DIR, f), 'utf8'))
    .join('');
  if (!probe.includes('modules: compiled (.build/)'))
    throw new Error(
      'bin/upkit never ran .build/ (not built, or a source changed): run npm run build, then the benchmark again',
    );

  const m = (key: string) => median(s[key] ?? []);
  const kit = m('kit');
  const ratio = (key: string) => (m(key) / kit).toFixed(2);
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, load average ` +
      `${(loadavg()[0] ?? 0).toFixed(1)} at the end, Node ${process.versions.node}, PostgreSQL ${server.version} (` +
      `${server.source}), a v2.3 database with data; median of ${runs} alternating rounds after one warm-up.`,
    '',
    '| no-op (nothing pending) | time | ratio to drizzle-kit |',
    '| --- | --- | --- |',
    ...commands.map(
      (c) => `| ${c.label} | ${fmt(m(c.key))} | ${c.key === 'upkit' ? `**${ratio(c.key)}×**` : `${ratio(c.key)}×`} |`,
    ),
    `| drizzle-orm \`migrate()\` inside a running node (peer) | ${fmt(m('orm'))} | |`,
    `| **upkit's own no-op work inside a running node** (config, inspection of both ledgers and the catalog, ` +
      `plan, verification) | ${fmt(m('inproc'))} | ${(m('inproc') / m('orm')).toFixed(2)}× drizzle-orm's |`,
    '',
    `Targets: \`bin/upkit upgrade --yes\` ≤ 0.5× \`npx drizzle-kit migrate\` (and never over 1.5×); ` +
      `upkit's own no-op work under 0.25 s (shared/MEASUREMENTS.md). This run: ${ratio('upkit')}` +
      `× (${
        Number(ratio('upkit')) <= 0.5 ? 'met' : Number(ratio('upkit')) <= 1.5 ? 'within 1.5×, over 0.5×' : 'over 1.5×'
      }); ` +
      `own work ${fmt(m('inproc'))} (${m('inproc') < 250 ? 'met' : 'missed'}). ` +
      `Against drizzle-kit without the .npmrc's \`--import=tsx\` (as an app's own folder runs it): ` +
      `${(m('upkit') / m('kitBare')).toFixed(2)}×; that line of ` +
      `the .npmrc costs drizzle-kit ${fmt(kit - m('kitBare'))} here.`,
  ].join('\n');
  console.log(body);
  writeSection('noop', body);
} finally {
  await server.stop();
}
