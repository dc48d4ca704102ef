// The peer side of the corpus runner: a folder applied by drizzle-orm's own migrate(), by
// `npx drizzle-kit migrate`, or (where drizzle's one transaction cannot run a statement) every
// statement by psql in journal order with drizzle's ledger rows written as drizzle writes them.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { pgEnv } from './compare.ts';
import { withClient } from '../../bench/support.ts';

const run = promisify(execFile);

export interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
  breakpoints: boolean;
}

export function readJournal(dir: string): { raw: Record<string, unknown>; entries: JournalEntry[] } {
  const raw = JSON.parse(readFileSync(path.join(dir, 'meta', '_journal.json'), 'utf8')) as Record<string, unknown> & {
    entries: JournalEntry[];
  };
  return { raw, entries: raw.entries };
}

/** Migrations and their non-empty statement pieces, split as drizzle splits them. */
export function countStatements(dir: string): { migrations: number; statements: number } {
  const files = readMigrationFiles({ migrationsFolder: dir });
  return {
    migrations: files.length,
    statements: files.reduce((n, f) => n + f.sql.filter((s) => s.trim() !== '').length, 0),
  };
}

/** Every `CREATE EXTENSION` of the folder's journal entries. */
export function extensionsUsed(dir: string): string[] {
  const names = new Set<string>();
  for (const e of readJournal(dir).entries) {
    const sql = readFileSync(path.join(dir, `${e.tag}.sql`), 'utf8');
    for (const m of sql.matchAll(/create\s+extension\s+(?:if\s+not\s+exists\s+)?"?([\w-]+)"?/gi))
      names.add(m[1]!.toLowerCase());
  }
  return [...names].sort();
}

/** A temporary copy of the folder whose journal keeps its first `n` entries. */
export function truncatedCopy(dir: string, n: number): string {
  const copy = mkdtempSync(path.join(tmpdir(), 'upkit-corpus-half-'));
  cpSync(dir, copy, { recursive: true });
  const { raw, entries } = readJournal(dir);
  writeFileSync(
    path.join(copy, 'meta', '_journal.json'),
    JSON.stringify({ ...raw, entries: entries.slice(0, n) }, null, 2),
  );
  return copy;
}

/** drizzle-orm's migrate() from node-postgres, in this process. */
export async function drizzleOrmMigrate(url: string, dir: string): Promise<void> {
  await withClient(url, (c) => migrate(drizzle(c), { migrationsFolder: dir }));
}

/** What drizzle's migrator does, statement by statement through psql: the ledger table as
 * drizzle creates it, then every entry newer than the newest `created_at`, each breakpoint
 * piece sent on its own (closed with `;` where the file left it open), one transaction per
 * file except files that build an index CONCURRENTLY, and drizzle's ledger row. */
export async function psqlMigrate(url: string, dir: string, binDir: string): Promise<void> {
  const last = await withClient(url, async (c) => {
    await c.query('CREATE SCHEMA IF NOT EXISTS "drizzle"');
    await c.query(
      'CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" ' +
        '(id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)',
    );
    const r = await c.query(
      'select created_at::text as c from "drizzle"."__drizzle_migrations" order by created_at desc limit 1',
    );
    return r.rows[0] ? Number(r.rows[0].c) : null;
  });
  const lines: string[] = ['\\set ON_ERROR_STOP 1'];
  for (const m of readMigrationFiles({ migrationsFolder: dir })) {
    if (last !== null && !(last < m.folderMillis)) continue;
    const ownTransaction = !m.sql.some((s) => /\bconcurrently\b/i.test(s));
    if (ownTransaction) lines.push('BEGIN;');
    for (const piece of m.sql) if (piece.trim() !== '') lines.push(piece, ';');
    lines.push(
      `INSERT INTO "drizzle"."__drizzle_migrations" ("hash", "created_at") VALUES ('${m.hash}', ${m.folderMillis});`,
    );
    if (ownTransaction) lines.push('COMMIT;');
  }
  const work = mkdtempSync(path.join(tmpdir(), 'upkit-corpus-psql-'));
  try {
    const script = path.join(work, 'all.sql');
    writeFileSync(script, `${lines.join('\n')}\n`, { mode: 0o600 });
    await run(path.join(binDir, 'psql'), ['-X', '-q', '-f', script], {
      env: { ...pgEnv(url), PGOPTIONS: '-c client_min_messages=error' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `npx drizzle-kit migrate` with a temporary config pointing at the folder and the database. */
export async function drizzleKitMigrate(url: string, dir: string): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'upkit-corpus-kit-'));
  try {
    const config = path.join(work, 'drizzle.config.json');
    writeFileSync(config, JSON.stringify({ dialect: 'postgresql', out: dir, dbCredentials: { url } }), { mode: 0o600 });
    await run('npx', ['drizzle-kit', 'migrate', '--config', config], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 30 * 60_000,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** One row into every table that takes one: defaults, and for a NOT NULL column without a
 * default a plain value of its type ('x', 1, false, now(), the enum's first value, an empty
 * array or object), so that a foreign key finds its parent's row ('x' or 1) once that table is
 * filled in an earlier pass. Returns how many tables hold a row and how many exist. */
export async function fillWithDefaults(url: string): Promise<{ filled: number; tables: number }> {
  return withClient(url, async (c) => {
    const columns = (
      await c.query<{ t: string; col: string | null; type: string | null; cat: string | null; label: string | null }>(
        `select format('%I.%I', n.nspname, cl.relname) as t, ` +
          `quote_ident(a.attname) as col, format_type(a.atttypid, a.atttypmod) as type,
                ty.typcategory as cat, (select quote_literal(e.enumlabel) ` +
          `from pg_enum e where e.enumtypid = a.atttypid order by e.enumsortorder limit 1) as label
           from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
           left join pg_attribute a on a.attrelid = cl.oid and ` +
          `a.attnum > 0 and not a.attisdropped and a.attnotnull and not a.atthasdef
                                    and a.attidentity = '' and a.attgenerated = ''
           left join pg_type ty on ty.oid = a.atttypid
          where cl.relkind in ('r', 'p') and not cl.relispartition and n.nspname not in ` +
          `('pg_catalog', 'information_schema', 'drizzle', 'upkit') and n.nspname not like 'pg_toast%'
            and not exists (select 1 from pg_depend d where d.objid = cl.oid and d.deptype = 'e')
          order by 1, a.attnum`,
      )
    ).rows;
    const literal = (cat: string | null, type: string, label: string | null): string => {
      if (label) return label;
      if (/^json/.test(type)) return `'{}'`;
      if (type === 'uuid') return `'00000000-0000-4000-8000-000000000001'`;
      switch (cat) {
        case 'N':
          return `'1'`;
        case 'B':
          return `'false'`;
        case 'D':
          return 'now()';
        case 'A':
          return `'{}'`;
        case 'V':
          return `'0'`;
        default:
          return `'x'`;
      }
    };
    const inserts = new Map<string, string>();
    for (const t of new Set(columns.map((r) => r.t))) {
      const required = columns.filter((r) => r.t === t && r.col !== null);
      inserts.set(
        t,
        required.length === 0
          ? `insert into ${t} default values`
          : `insert into ${t} (${required.map((r) => r.col).join(', ')}) ` +
              `values (${required.map((r) => `${literal(r.cat, r.type!, r.label)}::${r.type}`).join(', ')})`,
      );
    }
    const filled = new Set<string>();
    for (let pass = 0; pass < 8; pass++) {
      const before = filled.size;
      for (const [t, insert] of inserts) {
        if (filled.has(t)) continue;
        try {
          await c.query(insert);
          filled.add(t);
        } catch {
          // a check, a unique key, a foreign key to a table not filled yet, a type without a plain value
        }
      }
      if (filled.size === before) break;
    }
    return { filled: filled.size, tables: inserts.size };
  });
}
