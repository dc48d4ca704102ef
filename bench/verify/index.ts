// Benchmark: upkit's verify against psql-per-check (one `psql -tAc` per table, column and
// index existence check, as old upgrade.sh scripts did) on synthetic schemas of 100, 1000
// and 5000 tables, on a throwaway PostgreSQL started the way the test harness starts one
// (or BENCH_DATABASE_URL: a superuser URL on a server you run). Times and ratios come from
// the same run.
//
//   npx tsx bench/verify/index.ts [--sizes 100,1000,5000] [--runs 5] [--psql-full-up-to 1000] [--psql-sample 250]
//                                 [--expression-every 4] [--write]
//
// --expression-every N: one table in N has a check and a partial expression index; the largest
// size is measured again with them on every table (the worst case) unless --no-worst-case.
// --write replaces the `## verify` section of BENCHMARKS.md with this run's numbers.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { verifyDatabase } from '../../verify/engine.ts';
import { selectServer } from '../../test/support/serverSelection.ts';
import { gatherFacts } from '../../test/support/servers/discover.ts';
import { describeServer, startServer } from '../../test/support/servers/start.ts';
import { ROOT } from '../../test/support/cli.ts';
import { runScript, script } from './psqlPerCheck.ts';
import { fmt, markdown, writeSection, type Row } from './report.ts';
import { PRELUDE, tableDdl, writeDrizzleFolder } from './synthetic.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1000,5000' },
    runs: { type: 'string', default: '5' },
    'psql-full-up-to': { type: 'string', default: '1000' },
    'psql-sample': { type: 'string', default: '250' },
    'expression-every': { type: 'string', default: '4' },
    'no-worst-case': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const SIZES = values.sizes!.split(',').map(Number);
const RUNS = Number(values.runs);
const PSQL_FULL_UP_TO = Number(values['psql-full-up-to']);
const PSQL_SAMPLE = Number(values['psql-sample']);
const EVERY = Number(values['expression-every']);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (s: string) => process.stderr.write(`${s}\n`);

function urlFor(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function build(url: string, n: number, every: number, hash: string, when: number): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(PRELUDE);
    for (let i = 1; i <= n; i += 100) {
      const batch: string[] = [];
      for (let j = i; j < Math.min(i + 100, n + 1); j++) batch.push(tableDdl(j, every));
      await c.query(batch.join('\n'));
    }
    await c.query(
      'create schema drizzle; create table drizzle.__drizzle_migrations ' +
        '(id serial primary key, hash text not null, created_at bigint)',
    );
    await c.query('insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)', [hash, when]);
    await c.query('analyze');
  });
}

/** verifyDatabase on a fresh connection in a read-only transaction; counts the queries it sends. */
async function engineRun(
  url: string,
  drizzleDir: string,
): Promise<{ ms: number; connectMs: number; queries: number; problems: string[] }> {
  const started = performance.now();
  return withClient(url, async (c) => {
    const connectMs = performance.now() - started;
    let queries = 0;
    const counting = {
      query: (text: string, params?: unknown[]) => {
        queries++;
        return c.query(text, params);
      },
    } as unknown as pg.Client;
    const t0 = performance.now();
    await c.query('begin transaction read only');
    const result = await verifyDatabase(counting, { drizzleDir, checks: ['schema', 'ledgers'] });
    await c.query('commit');
    const ms = performance.now() - t0;
    const problems = result.findings.filter((f) => f.severity !== 'info').map((f) => `${f.code} ${f.message}`);
    return { ms, connectMs, queries, problems };
  });
}

/** The command as an operator runs it (zx with the tsx loader), wall time. */
function cliRun(url: string, drizzleDir: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'node_modules/zx/build/cli.js'),
        path.join(ROOT, 'verify/index.ts'),
        '--drizzle-dir',
        drizzleDir,
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NO_COLOR: '1',
          DATABASE_URL: url,
          UPKIT_LOG_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bench-logs-')),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`verify exited ${code}: ${stderr}`)),
    );
  });
}

async function main(): Promise<void> {
  const adminUrl = process.env.BENCH_DATABASE_URL;
  let stop = async () => {};
  let admin: string;
  let binDir: string | null = null;
  let serverLine: string;
  if (adminUrl) {
    admin = adminUrl;
    serverLine = `BENCH_DATABASE_URL server`;
  } else {
    const selection = selectServer(process.env, await gatherFacts(process.env));
    const handle = await startServer(selection);
    stop = () => handle.stop();
    admin = handle.adminUrl;
    binDir = handle.binDir ?? null;
    serverLine = describeServer(selection, handle);
  }
  const version = await withClient(
    admin,
    async (c) => (await c.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v,
  );
  log(`${serverLine}; ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'})`);
  const rows: Row[] = [];
  try {
    const cases = SIZES.map((n) => ({ n, every: EVERY }));
    if (!values['no-worst-case'] && EVERY !== 1) cases.push({ n: Math.max(...SIZES), every: 1 });
    for (const { n, every } of cases) {
      const load = loadavg()[0]!.toFixed(1);
      const database = `upkit_bench_verify_${n}_${process.pid}`;
      await withClient(admin, (c) => c.query(`create database ${database}`));
      try {
        const url = urlFor(admin, database);
        const app = writeDrizzleFolder(n, every);
        let t = performance.now();
        await build(url, n, every, app.hash, app.when);
        log(`${n} tables: database built in ${fmt(performance.now() - t)}`);

        const engine = [];
        for (let i = 0; i <= RUNS; i++) engine.push(await engineRun(url, app.drizzleDir));
        const problems = engine[0]!.problems;
        if (problems.length)
          throw new Error(`the synthetic database does not verify clean:\n${problems.slice(0, 10).join('\n')}`);
        const measured = engine.slice(1);
        const cli = [];
        for (let i = 0; i < 3; i++) cli.push(await cliRun(url, app.drizzleDir));

        const sampleSize = n <= PSQL_FULL_UP_TO ? n : Math.min(PSQL_SAMPLE, n);
        const step = n / sampleSize;
        const sample = Array.from({ length: sampleSize }, (_, k) => 1 + Math.floor(k * step));
        const { file, checks } = script(sample, every);
        const u = new URL(url);
        t = performance.now();
        const psql = await runScript(file, {
          host: u.hostname,
          port: Number(u.port || 5432),
          user: decodeURIComponent(u.username),
          password: decodeURIComponent(u.password),
          database,
          binDir,
        });
        if (!psql.stdout.includes('missing=0'))
          throw new Error(`psql-per-check found differences: ${psql.stdout.slice(-500)}`);
        const row: Row = {
          tables: n,
          every,
          load: `${load}–${loadavg()[0]!.toFixed(1)}`,
          queries: measured[0]!.queries,
          engineMs: median(measured.map((r) => r.ms)),
          connectMs: median(measured.map((r) => r.connectMs)),
          cliMs: median(cli),
          psqlChecks: Math.round((checks * n) / sampleSize),
          psqlMs: (psql.ms * n) / sampleSize,
          psqlMeasuredTables: sampleSize,
        };
        rows.push(row);
        log(
          `${n} tables (expressions on ${every === 1 ? 'every table' : `1 in ${every}`}, ` +
            `load ${row.load}): verify ${fmt(row.engineMs)} (${row.queries}` +
            ` round trips, connect ${fmt(row.connectMs)}), CLI ${fmt(row.cliMs)}; ` +
            `psql-per-check ${fmt(row.psqlMs)}` +
            `${
              sampleSize < n ? ` (extrapolated from ${sampleSize} tables, ${checks} checks, ${fmt(psql.ms)})` : ''
            }; ` +
            `ratio ${(row.psqlMs / row.engineMs).toFixed(0)}x (engine), ${(row.psqlMs / row.cliMs).toFixed(0)}x (CLI)`,
        );
      } finally {
        await withClient(admin, (c) => c.query(`drop database if exists ${database} with (force)`));
      }
    }
  } finally {
    await stop();
  }
  const table = markdown(rows, version, EVERY);
  process.stdout.write(`${table}\n`);
  if (values.write) writeSection(ROOT, table);
}

await main();
