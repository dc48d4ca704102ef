// Where a command's first second goes: each stage of `upgrade --help` measured as its own
// process (node alone, the TypeScript loader, each dependency, upkit's own modules, the whole
// command by each way of starting it), alternating stages round by round, medians printed.
// A stage's cost is its wall time minus the stage it builds on. No database is needed: this
// is start-up only (bench:noop measures the no-op upgrade against drizzle-kit migrate).
// Run: npm run bench:startup [-- --runs N]. Writes the `startup` section of BENCHMARKS.md.
import { execFile } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { fmt, median, time, writeSection } from '../support.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } }, strict: true });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: a whole number above 0, got ${values.runs}`);

const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', UPKIT_LOG_DIR: '/tmp/upkit-bench-startup-logs' };
const node = process.execPath;
const importing = (specs: string[]) => `${specs.map((s) => `await import(${JSON.stringify(s)});`).join('')}`;
const fromRoot = (rel: string) => path.join(PROJECT_ROOT, rel);

interface Stage {
  name: string;
  /** The stage this one adds to (its cost is the difference). */
  base?: string;
  file: string;
  args: string[];
}
const STAGES: Stage[] = [
  { name: 'node', file: node, args: ['-e', '0'] },
  { name: 'node + tsx loader', base: 'node', file: node, args: ['--import', 'tsx', '-e', '0'] },
  ...['pg', 'ora', 'zx', 'libpg-query', 'dotenv', 'pg-connection-string'].map((dep) => ({ name: `+ ${dep}`, base: 'node + tsx loader', file: node, args: ['--import', 'tsx', '--input-type=module', '-e', importing([dep])] })),
  { name: '+ lib/cli.ts', base: 'node + tsx loader', file: node, args: ['--import', 'tsx', '--input-type=module', '-e', importing([fromRoot('lib/cli.ts')])] },
  { name: '+ lib/commands/upgrade.ts', base: '+ lib/cli.ts', file: node, args: ['--import', 'tsx', '--input-type=module', '-e', importing([fromRoot('lib/cli.ts'), fromRoot('lib/commands/upgrade.ts')])] },
  { name: 'node --import tsx upgrade.ts --help', file: node, args: ['--import', 'tsx', fromRoot('upgrade.ts'), '--help'] },
  { name: 'bin/upkit upgrade --help', file: fromRoot('bin/upkit'), args: ['upgrade', '--help'] },
  { name: 'npx zx upgrade.ts --help', file: 'npx', args: ['zx', 'upgrade.ts', '--help'] },
  { name: 'npx drizzle-kit --help (peer)', file: 'npx', args: ['drizzle-kit', '--help'] },
];

const samples = new Map<string, number[]>(STAGES.map((s) => [s.name, []]));
const once = (s: Stage) => run(s.file, s.args, { cwd: PROJECT_ROOT, env });
// One warm-up each (npx resolution, tsx's transform cache, file caches), then alternating rounds.
for (const s of STAGES) await once(s);
for (let i = 0; i < runs; i++) for (const s of STAGES) samples.get(s.name)?.push((await time(() => once(s))).ms);

const med = (name: string) => median(samples.get(name) ?? []);
const rows = STAGES.map((s) => `| ${s.name} | ${fmt(med(s.name))} | ${s.base ? fmt(med(s.name) - med(s.base)) : ''} |`);
const help = med('bin/upkit upgrade --help');
const body = [
  `Start-up of \`upgrade --help\`, stage by stage: each stage is its own process, medians of ${runs} alternating rounds after one warm-up; the cost is the stage's wall time minus the stage it builds on. Machine: ${cpus().length} cores, load average ${(loadavg()[0] ?? 0).toFixed(1)} at the end, Node ${process.versions.node}.`,
  '',
  '| stage | wall | cost |',
  '| --- | --- | --- |',
  ...rows,
  '',
  `\`bin/upkit upgrade --help\`: ${fmt(help)} (target 0.3 s); ${(help / med('npx drizzle-kit --help (peer)')).toFixed(2)}× \`npx drizzle-kit --help\`.`,
].join('\n');
console.log(body);
writeSection('startup', body);
