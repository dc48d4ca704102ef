// What the corpus runner compares between two databases: the schema as `pg_dump --schema-only`
// prints it (normalised: no comments, SET lines or psql meta-commands; upkit's own schema left
// out), and drizzle's ledger (hash, created_at of every row). Both read a live database.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import pg from 'pg';

const run = promisify(execFile);

/** libpq variables for a URL, so no password travels in argv. */
export function pgEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  return {
    PATH: process.env.PATH ?? '',
    PGHOST: u.hostname,
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
    PGCONNECT_TIMEOUT: '10',
  };
}

/** The schema objects of a database as pg_dump prints them, one significant line each. */
export async function dumpSchema(url: string, binDir: string): Promise<string[]> {
  const { stdout } = await run(path.join(binDir, 'pg_dump'), ['--schema-only', '--exclude-schema=upkit'], {
    env: pgEnv(url),
    maxBuffer: 256 * 1024 * 1024,
  });
  return normaliseDump(stdout);
}

export function normaliseDump(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter(
      (l) =>
        l !== '' &&
        !l.startsWith('--') &&
        !l.startsWith('SET ') &&
        !l.startsWith('\\') &&
        !l.startsWith('SELECT pg_catalog.set_config('),
    );
}

export interface Comparison {
  equal: boolean;
  /** Empty when equal; otherwise the first differences, one per line. */
  detail: string[];
}

/** Line by line, in pg_dump's order: a line only one side has, or the same lines in another
 * order (a column or an enum value moved), is a difference. */
export function compareDumps(
  a: readonly string[],
  b: readonly string[],
  labels: [string, string] = ['a', 'b'],
  max = 6,
): Comparison {
  if (a.length === b.length && a.every((l, i) => l === b[i])) return { equal: true, detail: [] };
  const count = (xs: readonly string[]) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const ca = count(a);
  const cb = count(b);
  const onlyIn = (xs: readonly string[], mine: Map<string, number>, other: Map<string, number>) => {
    const seen = new Map<string, number>();
    const out: string[] = [];
    for (const x of xs) {
      const n = (seen.get(x) ?? 0) + 1;
      seen.set(x, n);
      if (n > (other.get(x) ?? 0) && n <= (mine.get(x) ?? 0)) out.push(x.trim());
    }
    return out;
  };
  const inA = onlyIn(a, ca, cb);
  const inB = onlyIn(b, cb, ca);
  const detail = [
    ...inA.slice(0, max).map((l) => `only ${labels[0]}: ${l}`),
    ...inB.slice(0, max).map((l) => `only ${labels[1]}: ${l}`),
  ];
  if (inA.length > max || inB.length > max)
    detail.push(`(${inA.length} line(s) only ${labels[0]}, ${inB.length} only ${labels[1]})`);
  if (detail.length === 0) {
    const i = a.findIndex((l, k) => l !== b[k]);
    detail.push(`same lines in another order, first at: ${labels[0]} ${a[i]?.trim()} / ${labels[1]} ${b[i]?.trim()}`);
  }
  return { equal: false, detail };
}

export interface LedgerRow {
  hash: string;
  created_at: string;
}

/** drizzle.__drizzle_migrations in id order; empty when the table does not exist. */
export async function readLedger(url: string): Promise<LedgerRow[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const exists = (await c.query(`select to_regclass('drizzle.__drizzle_migrations') is not null as ok`)).rows[0]
      .ok as boolean;
    if (!exists) return [];
    return (
      await c.query<LedgerRow>(
        `select hash, created_at::text as created_at from drizzle.__drizzle_migrations order by id`,
      )
    ).rows;
  } finally {
    await c.end();
  }
}

/** The same rows (hash, created_at), whatever their ids. */
export function compareLedgers(
  a: readonly LedgerRow[],
  b: readonly LedgerRow[],
  labels: [string, string] = ['a', 'b'],
): Comparison {
  const key = (r: LedgerRow) => `${r.hash} ${r.created_at}`;
  return compareDumps([...a].map(key).sort(), [...b].map(key).sort(), labels);
}

export interface Snapshot {
  schema: string[];
  ledger: LedgerRow[];
}

export async function snapshot(url: string, binDir: string): Promise<Snapshot> {
  return { schema: await dumpSchema(url, binDir), ledger: await readLedger(url) };
}

/** Schema and ledger both equal; the detail names which differ. */
export function compareSnapshots(
  a: Snapshot,
  b: Snapshot,
  labels: [string, string],
): { catalog: Comparison; ledger: Comparison } {
  return { catalog: compareDumps(a.schema, b.schema, labels), ledger: compareLedgers(a.ledger, b.ledger, labels) };
}
