// A synthetic app schema of N tables, as DDL for a throwaway database and as the drizzle
// folder (journal, one migration, its snapshot) drizzle-kit would have generated for it.
// Each table has what real ones have: a uuid key with a default, a foreign key, a varchar,
// an enum column with a default, jsonb, a timestamp, a unique constraint and a plain index.
// Every `expressionEvery`-th table also has a check and a partial expression index (Pulse
// has them on about one table in four; 1 puts them on every table, the worst case, as the
// server deparses each expression for each table).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sha256 } from '../../lib/legacy/manifest.ts';

export const tableName = (i: number) => `t${String(i).padStart(5, '0')}`;

/**
 * Per table: 6 columns, 2 indexes (key, plain), 1 unique, 1 foreign key; some also a check and a partial expression
 * index.
 */
export const COLUMNS = ['id', 'org_id', 'name', 'state', 'data', 'created_at'] as const;

export const hasExpressions = (i: number, every: number) => i % every === 0;

export function tableDdl(i: number, every = 4): string {
  const t = tableName(i);
  const x = hasExpressions(i, every);
  return `create table ${t} (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null constraint ${t}_org_id_bench_orgs_id_fk references bench_orgs(id) on delete cascade,
  name varchar(255) not null,
  state bench_state not null default 'active',
  data jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  constraint ${t}_name_unique unique (name)${
    x
      ? `,
  constraint ${t}_name_check check (length(name) > 0)`
      : ''
  }
);
create index ${t}_org_id_idx on ${t} (org_id);${
    x
      ? `
create index ${t}_lower_name_idx on ${t} (lower(name)) where state <> 'archived';`
      : ''
  }`;
}

export const PRELUDE = `create type bench_state as enum ('active', 'paused', 'archived');
create table bench_orgs (id uuid primary key default gen_random_uuid(), name text not null);`;

const col = (name: string, type: string, notNull: boolean, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  primaryKey: false,
  notNull,
  ...extra,
});
const idxCol = (expression: string, isExpression = false) => ({ expression, isExpression, asc: true, nulls: 'last' });

function tableSnapshot(i: number, every: number) {
  const t = tableName(i);
  const x = hasExpressions(i, every);
  return {
    name: t,
    schema: '',
    columns: {
      id: col('id', 'uuid', true, { primaryKey: true, default: 'gen_random_uuid()' }),
      org_id: col('org_id', 'uuid', true),
      name: col('name', 'varchar(255)', true),
      state: col('state', 'bench_state', true, { typeSchema: 'public', default: "'active'" }),
      data: col('data', 'jsonb', true, { default: "'{}'::jsonb" }),
      created_at: col('created_at', 'timestamp with time zone', true, { default: 'now()' }),
    },
    indexes: {
      [`${t}_org_id_idx`]: {
        name: `${t}_org_id_idx`,
        columns: [idxCol('org_id')],
        isUnique: false,
        concurrently: false,
        method: 'btree',
        with: {},
      },
      ...(x
        ? {
            [`${t}_lower_name_idx`]: {
              name: `${t}_lower_name_idx`,
              columns: [idxCol('lower("name")', true)],
              isUnique: false,
              where: `"${t}"."state" <> 'archived'`,
              concurrently: false,
              method: 'btree',
              with: {},
            },
          }
        : {}),
    },
    foreignKeys: {
      [`${t}_org_id_bench_orgs_id_fk`]: {
        name: `${t}_org_id_bench_orgs_id_fk`,
        tableFrom: t,
        tableTo: 'bench_orgs',
        columnsFrom: ['org_id'],
        columnsTo: ['id'],
        onDelete: 'cascade',
        onUpdate: 'no action',
      },
    },
    compositePrimaryKeys: {},
    uniqueConstraints: {
      [`${t}_name_unique`]: { name: `${t}_name_unique`, nullsNotDistinct: false, columns: ['name'] },
    },
    policies: {},
    checkConstraints: x ? { [`${t}_name_check`]: { name: `${t}_name_check`, value: `length("${t}"."name") > 0` } } : {},
    isRLSEnabled: false,
  };
}

export interface SyntheticApp {
  drizzleDir: string;
  hash: string;
  when: number;
}

/** Writes the drizzle folder for N tables; the database gets the same schema from the DDL. */
export function writeDrizzleFolder(n: number, every = 4): SyntheticApp {
  const drizzleDir = path.join(mkdtempSync(path.join(tmpdir(), 'upkit-bench-verify-')), 'drizzle');
  mkdirSync(path.join(drizzleDir, 'meta'), { recursive: true });
  const when = 1_700_000_000_000;
  const sql = `-- synthetic schema of ${n} tables, applied by the benchmark\n`;
  writeFileSync(path.join(drizzleDir, '0000_bench.sql'), sql);
  writeFileSync(
    path.join(drizzleDir, 'meta', '_journal.json'),
    JSON.stringify({
      version: '7',
      dialect: 'postgresql',
      entries: [{ idx: 0, version: '7', when, tag: '0000_bench', breakpoints: true }],
    }),
  );
  const tables: Record<string, unknown> = {
    'public.bench_orgs': {
      name: 'bench_orgs',
      schema: '',
      columns: {
        id: col('id', 'uuid', true, { primaryKey: true, default: 'gen_random_uuid()' }),
        name: col('name', 'text', true),
      },
      indexes: {},
      foreignKeys: {},
      compositePrimaryKeys: {},
      uniqueConstraints: {},
      policies: {},
      checkConstraints: {},
      isRLSEnabled: false,
    },
  };
  for (let i = 1; i <= n; i++) tables[`public.${tableName(i)}`] = tableSnapshot(i, every);
  const snapshot = {
    id: '00000000-0000-0000-0000-000000000000',
    prevId: '00000000-0000-0000-0000-000000000000',
    version: '7',
    dialect: 'postgresql',
    tables,
    enums: {
      'public.bench_state': { name: 'bench_state', schema: 'public', values: ['active', 'paused', 'archived'] },
    },
    schemas: {},
    sequences: {},
    roles: {},
    policies: {},
    views: {},
    _meta: { columns: {}, schemas: {}, tables: {} },
  };
  writeFileSync(path.join(drizzleDir, 'meta', '0000_snapshot.json'), JSON.stringify(snapshot));
  return { drizzleDir, hash: sha256(sql), when };
}
