// Where a command's first second goes: each stage of `upgrade --help` and of a command's start
// measured as its own process (node alone, the TypeScript loader, each dependency, upkit's own
// modules compiled and from the sources, configuration, the first connection), alternating
// stages round by round, medians printed. A stage's cost is its wall time minus the stage it
// builds on. Then `upgrade --help` and `--version` through bin/upkit.js on Node 20, 22 and 24,
// from the compiled tree (.build/) and from the sources (UPKIT_COMPILED=0), beside the peers
// `npx zx upgrade.ts --help` and `npx drizzle-kit --help`. Builds .build/ first (npm run build).
// A scratch PostgreSQL server serves the first-connection stage (bench:noop measures the no-op
// upgrade against drizzle-kit migrate).
// Run: npm run bench:startup [-- --runs N]. Writes the `startup` section of BENCHMARKS.md.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { nodeBuild } from '../../test/support/nodeBuilds.ts';
import { benchServer, fmt, median, recreateDatabase, time, writeSection } from '../support.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } }, strict: true });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: a whole number above 0, got ${values.runs}`);

await run(process.execPath, [path.join(PROJECT_ROOT, 'scripts/build.mjs')], { cwd: PROJECT_ROOT });

const env = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  NO_COLOR: '1',
  UPKIT_LOG_DIR: '/tmp/upkit-bench-startup-logs',
};
const node20 = process.execPath;
const importing = (specs: string[]) => `${specs.map((s) => `await import(${JSON.stringify(s)});`).join('')}`;
const fromRoot = (rel: string) => path.join(PROJECT_ROOT, rel);
const built = (rel: string) => fromRoot(`.build/${rel.replace(/\.ts$/, '.js')}`);
const launcherJs = fromRoot('bin/upkit.js');

interface Stage {
  name: string;
  /** The stage this one adds to (its cost is the difference). */
  base?: string;
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

const server = await benchServer();
try {
  const url = await recreateDatabase(server, 'bench_startup');
  const nodes: Array<{ label: string; path: string; version: string }> = [
    { label: 'Node 20', path: node20, version: process.versions.node },
  ];
  for (const spec of ['22', '24']) {
    const b = nodeBuild(spec);
    if ('path' in b) nodes.push({ label: `Node ${spec}`, path: b.path, version: b.version.replace(/^v/, '') });
    else console.error(`Node ${spec} left out: ${b.reason}`);
  }
  const tsx = ['--import', 'tsx', '--input-type=module', '-e'];
  const plain = ['--input-type=module', '-e'];
  const breakdown: Stage[] = [
    { name: 'node', file: node20, args: ['-e', '0'] },
    { name: 'node + tsx loader', base: 'node', file: node20, args: ['--import', 'tsx', '-e', '0'] },
    ...['pg', 'ora', 'zx', 'libpg-query', 'dotenv', 'pg-connection-string'].map((dep) => ({
      name: `+ ${dep}`,
      base: 'node',
      file: node20,
      args: [...plain, importing([dep])],
    })),
    {
      name: '+ compiled lib/cliSpec + upgrade spec (what --help loads)',
      base: 'node',
      file: node20,
      args: [...plain, importing([built('lib/cliSpec.ts'), built('lib/commands/upgrade.ts')])],
    },
    {
      name: '+ compiled lib/cli (the runner)',
      base: 'node',
      file: node20,
      args: [...plain, importing([built('lib/cli.ts')])],
    },
    {
      name: '+ compiled lib/upgrade (the engine)',
      base: 'node',
      file: node20,
      args: [...plain, importing([built('lib/cli.ts'), built('lib/upgrade.ts')])],
    },
    {
      name: '+ sources lib/cli + lib/upgrade through tsx',
      base: 'node + tsx loader',
      file: node20,
      args: [...tsx, importing([fromRoot('lib/cli.ts'), fromRoot('lib/upgrade.ts')])],
    },
    {
      name: '+ configuration (loadConfig)',
      base: '+ compiled lib/upgrade (the engine)',
      file: node20,
      args: [
        ...plain,
        `${importing([built('lib/cli.ts'), built('lib/upgrade.ts')])}const c = await import(` +
          `${JSON.stringify(built('lib/config.ts'))}); c.loadConfig({ env: { DATABASE_URL: process.env.BENCH_URL } });`,
      ],
      env: { ...env, BENCH_URL: url },
    },
    {
      name: '+ first connection (connect, select 1, end)',
      base: '+ configuration (loadConfig)',
      file: node20,
      args: [
        ...plain,
        `${importing([built('lib/cli.ts'), built('lib/upgrade.ts')])}const c = await import(` +
          `${JSON.stringify(built('lib/config.ts'))}); const cfg = c.loadConfig({ env: { DATABASE_URL: ` +
          `process.env.BENCH_URL } }); const db = await import(${JSON.stringify(built('lib/db.ts'))}` +
          `); await db.withClient(cfg.migrationDb, cfg, (k) => k.query('select 1'));`,
      ],
      env: { ...env, BENCH_URL: url },
    },
  ];
  const whole: Stage[] = [];
  for (const n of nodes) {
    whole.push({ name: `${n.label}: node`, file: n.path, args: ['-e', '0'] });
    whole.push({
      name: `${n.label}: upgrade --help, compiled`,
      base: `${n.label}: node`,
      file: n.path,
      args: [launcherJs, '--', 'upgrade', '--help'],
    });
    whole.push({
      name: `${n.label}: upgrade --help, sources`,
      base: `${n.label}: node`,
      file: n.path,
      args: [launcherJs, '--', 'upgrade', '--help'],
      env: { ...env, UPKIT_COMPILED: '0' },
    });
    whole.push({
      name: `${n.label}: --version, compiled`,
      base: `${n.label}: node`,
      file: n.path,
      args: [launcherJs, '--', '--version'],
    });
    whole.push({
      name: `${n.label}: --help (every command's summary), compiled`,
      base: `${n.label}: node`,
      file: n.path,
      args: [launcherJs, '--', '--help'],
    });
  }
  whole.push({
    name: 'bin/upkit upgrade --help (the shell launcher, node on PATH)',
    file: fromRoot('bin/upkit'),
    args: ['upgrade', '--help'],
  });
  whole.push({ name: 'npx zx upgrade.ts --help', file: 'npx', args: ['zx', 'upgrade.ts', '--help'] });
  whole.push({ name: 'npx drizzle-kit --help (peer)', file: 'npx', args: ['drizzle-kit', '--help'] });
  // The .npmrc's node-options=--import=tsx applies to every npx run in upkit's folder: blank, npm sets no NODE_OPTIONS.
  whole.push({
    name: "npx drizzle-kit --help without the .npmrc's --import=tsx",
    file: 'npx',
    args: ['drizzle-kit', '--help'],
    env: { ...env, npm_config_node_options: ' ' },
  });
  const STAGES = [...breakdown, ...whole];

  const samples = new Map<string, number[]>(STAGES.map((s) => [s.name, []]));
  const once = (s: Stage) => run(s.file, s.args, { cwd: PROJECT_ROOT, env: s.env ?? env });
  // One warm-up each (npx resolution, tsx's transform cache, file caches), then alternating rounds.
  for (const s of STAGES) await once(s);
  for (let i = 0; i < runs; i++) for (const s of STAGES) samples.get(s.name)?.push((await time(() => once(s))).ms);

  // The compiled rows mean something only while .build/ stayed current (no source edited during the run).
  const probeLogs = mkdtempSync(path.join(tmpdir(), 'upkit-bench-probe-'));
  await run(node20, [launcherJs, '--', 'status'], {
    cwd: PROJECT_ROOT,
    env: { ...env, UPKIT_LOG_DIR: probeLogs },
  }).catch(() => undefined);
  const probe = readdirSync(probeLogs)
    .map((f) => readFileSync(path.join(probeLogs, f), 'utf8'))
    .join('');
  if (!probe.includes('modules: compiled (.build/)'))
    throw new Error('.build/ was not current at the end of the run (a source changed while it ran): run it again');

  const med = (name: string) => median(samples.get(name) ?? []);
  const rows = (stages: Stage[]) =>
    stages.map((s) => `| ${s.name} | ${fmt(med(s.name))} | ${s.base ? fmt(med(s.name) - med(s.base)) : ''} |`);
  const peer = med('npx drizzle-kit --help (peer)');
  const help = med('Node 20: upgrade --help, compiled');
  const worstHelp = Math.max(...nodes.map((n) => med(`${n.label}: upgrade --help, compiled`)));
  const body = [
    `Machine: ${cpus().length} cores, load average ${(loadavg()[0] ?? 0).toFixed(1)} at the end; ` +
      `Node ${nodes.map((n) => n.version).join(', ')}; medians of ${runs} alternating rounds after one warm-up, ` +
      `each stage its own process; the cost is the stage's wall time minus the stage it builds on. "compiled" is ` +
      `.build/ (npm run build, run by npm ci); "sources" is UPKIT_COMPILED=0: Node 20 and 22 before 22.18 through ` +
      `tsx, 22.18+ and 24 stripping types natively. The Node 22 and 24 ` +
      `rows run \`node bin/upkit.js -- …\`, which is what bin/upkit runs.`,
    '',
    'Stage by stage, on Node 20:',
    '',
    '| stage | wall | cost |',
    '| --- | --- | --- |',
    ...rows(breakdown),
    '',
    'Whole commands:',
    '',
    '| command | wall | over node alone |',
    '| --- | --- | --- |',
    ...rows(whole),
    '',
    `\`upgrade --help\` compiled: ${fmt(help)} on Node 20, at most ${fmt(worstHelp)} on the Nodes ` +
      `above (target 0.3 s: ${worstHelp <= 300 ? 'met' : 'missed'}); ${(help / peer).toFixed(2)}` +
      `× \`npx drizzle-kit --help\`, ${(help / med('npx zx upgrade.ts --help')).toFixed(2)}` +
      `× \`npx zx upgrade.ts --help\`. The .npmrc's \`--import=tsx\` costs every npx run in this folder ` +
      `${fmt(peer - med("npx drizzle-kit --help without the .npmrc's --import=tsx"))} (drizzle-kit's --help).`,
  ].join('\n');
  console.log(body);
  writeSection('startup', body);
} finally {
  await server.stop();
}
