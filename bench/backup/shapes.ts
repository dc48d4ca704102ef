// The two data shapes bench/backup measures, each built once per cluster and reused: a
// `pgbench -i` database (one dominant table of near-identical rows, very compressible) and
// Pulse's v2.3 fixture (a dozen tables of varied rows, indexes, jsonb). What was built, and the
// exact row count of every table, is recorded in the `postgres` database, so that a later run
// on the same cluster reuses it and every restore is checked against those counts.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { buildRelease } from '../../test/support/releases.ts';
import type { ServerHandle } from '../../test/support/servers/common.ts';
import { fmt, recreateDatabase, time, urlFor, withClient } from '../support.ts';

const run = promisify(execFile);

export interface Shape {
  name: 'pgbench' | 'pulse';
  database: string;
  /** What was built, e.g. `pgbench -i -s 70`; a cluster holding another spec builds again. */
  spec: string;
  bytes: number;
  rows: Record<string, number>;
  /** How long building it took, when this run built it. */
  builtMs?: number;
}

/** Users per GB of the v2.3 fixture (700,000 users made 1.58 GB). */
const PULSE_USERS_PER_GB = 445_000;
/** pgbench's scale per GB (`-s 70` makes 1.05 GB). */
const PGBENCH_SCALE_PER_GB = 70;

export function specs(sizeGb: number): Record<Shape['name'], string> {
  return {
    pgbench: `pgbench -i -s ${Math.max(1, Math.round(PGBENCH_SCALE_PER_GB * sizeGb))}`,
    pulse: `v2.3 fixture, ${Math.max(40, Math.round(PULSE_USERS_PER_GB * sizeGb))} users`,
  };
}

/** Exact row counts of every table of the database at `url`. */
export async function rowCounts(url: string): Promise<Record<string, number>> {
  return withClient(url, async (c) => {
    const tables = (
      await c.query<{ t: string }>(
        `select format('%I.%I', schemaname, relname) as t from pg_stat_user_tables order by 1`,
      )
    ).rows.map((r) => r.t);
    if (!tables.length) return {};
    const { rows } = await c.query(`select ${tables.map((t, i) => `(select count(*) from ${t}) as c${i}`).join(', ')}`);
    return Object.fromEntries(tables.map((t, i) => [t, Number(rows[0][`c${i}`])]));
  });
}

/** Throws unless the database at `url` holds the shape's rows, table by table. */
export async function checkRows(url: string, shape: Shape, what: string): Promise<void> {
  const got = await rowCounts(url);
  const differ = [...new Set([...Object.keys(got), ...Object.keys(shape.rows)])].filter(
    (t) => got[t] !== shape.rows[t],
  );
  if (differ.length)
    throw new Error(
      `${what}: row counts differ from the ${shape.name} database in ` +
        `${differ.map((t) => `${t} (${got[t]} against ${shape.rows[t]})`).join(', ')}`,
    );
}

async function built(server: ServerHandle): Promise<Map<string, Shape>> {
  return withClient(server.adminUrl, async (c) => {
    await c.query(
      `create table if not exists bench_shapes (name text primary key, ` +
        `database text not null, spec text not null, bytes bigint not null, rows jsonb not null)`,
    );
    const { rows } = await c.query(`select name, database, spec, bytes, rows from bench_shapes`);
    return new Map(rows.map((r) => [r.name, { ...r, bytes: Number(r.bytes) } as Shape]));
  });
}

/** The shape on this cluster, built now unless an earlier run built the same spec. */
export async function ensureShape(
  server: ServerHandle,
  name: Shape['name'],
  spec: string,
  env: NodeJS.ProcessEnv,
): Promise<Shape> {
  const have = (await built(server)).get(name);
  const database = `bench_${name}`;
  if (have?.spec === spec) {
    console.error(`${name}: reusing ${have.database} (${spec}, ${(have.bytes / 1024 ** 3).toFixed(2)} GB)`);
    return have;
  }
  console.error(`${name}: building ${spec}…`);
  const url = await recreateDatabase(server, database);
  const t = await time(async () => {
    if (name === 'pgbench') {
      const scale = /-s (\d+)/.exec(spec)![1]!;
      await run('pgbench', ['-i', '-q', '-s', scale, database], { env, maxBuffer: 64 << 20 });
    } else {
      const users = Number(/(\d+) users/.exec(spec)![1]);
      await withClient(url, (c) => buildRelease(c, 'v2.3', { data: { users } }));
    }
    await withClient(url, (c) => c.query('vacuum analyze'));
  });
  const bytes = await withClient(url, async (c) =>
    Number((await c.query(`select pg_database_size(current_database()) as b`)).rows[0].b),
  );
  const shape: Shape = { name, database, spec, bytes, rows: await rowCounts(url), builtMs: t.ms };
  await withClient(server.adminUrl, (c) =>
    c.query(
      `insert into bench_shapes values ($1, $2, $3, $4, $5) on conflict (name) ` +
        `do update set database = $2, spec = $3, bytes = $4, rows = $5`,
      [name, database, spec, bytes, JSON.stringify(shape.rows)],
    ),
  );
  console.error(`${name}: built ${(bytes / 1024 ** 3).toFixed(2)} GB in ${fmt(t.ms)}`);
  return shape;
}

/** One line on the shape: size, tables, rows, and how much of it the largest table holds. */
export async function describeShape(server: ServerHandle, shape: Shape): Promise<string> {
  return withClient(urlFor(server, shape.database), async (c) => {
    const { rows } = await c.query(
      `select format('%I', relname) as t, pg_total_relation_size(relid) ` +
        `as b from pg_stat_user_tables order by 2 desc limit 1`,
    );
    const top = rows[0];
    const total = Object.values(shape.rows).reduce((a, b) => a + b, 0);
    const share = top
      ? `; ${top.t} holds ${((100 * Number(top.b)) / shape.bytes).toFixed(0)}` +
        `% of it (${shape.rows[`public.${top.t}`]?.toLocaleString('en-US')} rows)`
      : '';
    return (
      `${shape.spec}: ${(shape.bytes / 1024 ** 3).toFixed(2)} GB, ` +
      `${Object.keys(shape.rows).length} tables, ${total.toLocaleString('en-US')} rows${share}`
    );
  });
}
