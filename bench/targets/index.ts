// Eleven service databases (each an app with its own drizzle folder) upgraded in one run over
// targets, `--all --concurrency 1, 2, 4`, against the peer an operator has without it: eleven
// sequential `npx zx upgrade.ts` runs, one per database (process start included). Each round
// starts from eleven empty databases; the modes alternate in order from round to round.
// Run: npm run bench:targets [-- --runs N]. Writes the `targets` section of BENCHMARKS.md.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { column, table, writeAppFolder } from '../../test/support/appFolders.ts';
import { benchServer, fmt, median, recreateDatabase, time, writeSection } from '../support.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } }, strict: true });
const runs = Number(values.runs);
const NAMES = Array.from({ length: 11 }, (_, i) => `bench_svc${String(i + 1).padStart(2, '0')}`);

const work = mkdtempSync(path.join(tmpdir(), 'upkit-bench-targets-'));
for (const name of NAMES) {
  const migrations = [
    { tag: '0000_init', sql: `CREATE TABLE "${name}_items" ("id" integer PRIMARY KEY NOT NULL, "note" text);` },
    { tag: '0001_qty', sql: `ALTER TABLE "${name}_items" ADD COLUMN "qty" integer;` },
    { tag: '0002_done', sql: `ALTER TABLE "${name}_items" ADD COLUMN "done" boolean DEFAULT false NOT NULL;` },
  ];
  const cols = [
    column('id', 'integer', { primaryKey: true, notNull: true }),
    column('note', 'text'),
    column('qty', 'integer'),
    column('done', 'boolean', { notNull: true, default: false }),
  ];
  writeAppFolder(
    migrations,
    { tables: Object.fromEntries([table('public', `${name}_items`, cols)]) },
    path.join(work, 'apps', name),
  );
}
const targetsFile = path.join(work, 'upkit.targets.json');
writeFileSync(
  targetsFile,
  JSON.stringify(
    {
      targets: NAMES.map((name) => ({
        name,
        url: `${name.toUpperCase()}_URL`,
        profile: { drizzleDir: `apps/${name}` },
      })),
    },
    null,
    2,
  ),
);

const server = await benchServer();
try {
  const urls = new Map<string, string>();
  const reset = async () => {
    for (const name of NAMES) urls.set(name, await recreateDatabase(server, name));
  };
  const base = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NO_COLOR: '1',
    UPKIT_LOG_DIR: path.join(work, 'logs'),
    UPKIT_CACHE_DIR: path.join(work, 'cache'),
  };
  const targetsEnv = () => ({
    ...base,
    ...Object.fromEntries(NAMES.map((n) => [`${n.toUpperCase()}_URL`, urls.get(n)!])),
    BACKUP_DIR: path.join(work, 'backups'),
  });
  const modes: Record<string, () => Promise<unknown>> = {
    sequential: async () => {
      for (const name of NAMES) {
        await run(
          'npx',
          ['zx', 'upgrade.ts', '--yes', '--no-containers', '--drizzle-dir', path.join(work, 'apps', name)],
          {
            cwd: PROJECT_ROOT,
            env: { ...base, DATABASE_URL: urls.get(name)!, BACKUP_DIR: path.join(work, 'backups', name) },
          },
        );
      }
    },
    ...Object.fromEntries(
      [1, 2, 4].map((c) => [
        `concurrency ${c}`,
        () =>
          run(
            'npx',
            [
              'zx',
              'upgrade.ts',
              '--all',
              '--yes',
              '--no-containers',
              '--targets',
              targetsFile,
              '--concurrency',
              String(c),
            ],
            { cwd: PROJECT_ROOT, env: targetsEnv() },
          ),
      ]),
    ),
  };
  const names = Object.keys(modes);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const loads: number[] = [];
  // One warm-up: npx resolution and file caches.
  await reset();
  await modes['concurrency 4']!();
  for (let i = 0; i < runs; i++) {
    const order = names.map((_, k) => names[(k + i) % names.length]!);
    for (const mode of order) {
      await reset();
      loads.push(loadavg()[0]!);
      const { ms } = await time(modes[mode]!);
      samples[mode]!.push(ms);
      console.log(`round ${i + 1}: ${mode} ${fmt(ms)}`);
    }
  }
  const seq = median(samples.sequential!);
  const rows = names.map((n) => {
    const m = median(samples[n]!);
    const label =
      n === 'sequential'
        ? 'eleven sequential `npx zx upgrade.ts --yes --drizzle-dir DIR` (peer)'
        : `**\`npx zx upgrade.ts --all --yes --${n}\`**`;
    return (
      `| ${label} | ${fmt(m)} | ${n === 'sequential' ? '1.00×' : `**${(m / seq).toFixed(2)}×**`}` +
      ` | ${samples[n]!.map(fmt).join(', ')} |`
    );
  });
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (` +
      `${cpus()[0]?.model ?? 'unknown CPU'}), PostgreSQL ${server.version} (${server.source}); 1-minute load average ` +
      `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} while measuring (the machine ` +
      `was shared). Eleven empty app databases, three migrations each, every upgrade with its verified ` +
      `backup (pg_dump, pg_restore --list) and verification; median of ${runs} rounds (the slower ` +
      `middle one for an even count) after one warm-up, the modes' order rotating from round to round.`,
    '',
    '| eleven databases to their latest entry | median | ratio | each round |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    'One run over targets starts node, zx and tsx once instead of eleven times; its concurrency then ' +
      "overlaps one database's waits (pg_dump, the server) with another's work, as far as the cores allow: " +
      'past the number of cores it buys little, since node, pg_dump and the server share them. On a loaded machine ' +
      "the absolute times are several times an idle one's; read the ratios, measured in the same rounds.",
  ].join('\n');
  console.log(body);
  writeSection('targets', body);
} finally {
  await server.stop();
}
