// drizzle-kit's snapshot (`meta/NNNN_snapshot.json`, version 7) read into the shapes of
// model.ts. The snapshot of a journal entry is the whole schema after that entry, so the
// last entry's snapshot is what the code expects of a database that applied everything.
import { existsSync, readFileSync } from 'node:fs';
import { UpkitError } from '../lib/errors.ts';
import { snapshotPath as snapshotFile, type JournalEntry } from '../lib/drizzle/journal.ts';
import type { ColumnSpec, FkAction, IdentitySpec, IndexSpec, SchemaSpec, TableSpec } from './model.ts';
import { pgName, pgObjectName } from './pgName.ts';
import { SERIAL_TYPES, snapshotDefault, snapshotType } from './sqlText.ts';

interface SnapColumn {
  name: string;
  type: string;
  typeSchema?: string;
  primaryKey?: boolean;
  notNull?: boolean;
  default?: unknown;
  isUnique?: boolean;
  uniqueName?: string;
  nullsNotDistinct?: boolean;
  identity?: {
    type?: string;
    increment?: string;
    startWith?: string;
    minValue?: string;
    maxValue?: string;
    cache?: string;
    cycle?: boolean;
  };
  generated?: { as: string; type?: string };
}

interface SnapIndex {
  name: string;
  columns: Array<{ expression: string; isExpression?: boolean; asc?: boolean; nulls?: string; opclass?: string }>;
  isUnique?: boolean;
  where?: string;
  method?: string;
  with?: Record<string, unknown>;
}

interface SnapTable {
  name: string;
  schema?: string;
  columns?: Record<string, SnapColumn>;
  indexes?: Record<string, SnapIndex>;
  foreignKeys?: Record<
    string,
    {
      name: string;
      tableTo: string;
      schemaTo?: string;
      columnsFrom: string[];
      columnsTo: string[];
      onDelete?: string;
      onUpdate?: string;
    }
  >;
  compositePrimaryKeys?: Record<string, { name: string; columns: string[] }>;
  uniqueConstraints?: Record<string, { name: string; columns: string[]; nullsNotDistinct?: boolean }>;
  checkConstraints?: Record<string, { name: string; value: string }>;
  policies?: Record<string, { name: string }>;
  isRLSEnabled?: boolean;
}

export interface DrizzleSnapshot {
  version?: string;
  dialect?: string;
  tables?: Record<string, SnapTable>;
  enums?: Record<string, { name: string; schema?: string; values: string[] }>;
  schemas?: Record<string, string>;
  sequences?: Record<string, { name: string; schema?: string }>;
  views?: Record<string, { name: string; schema?: string }>;
}

const ACTIONS: readonly FkAction[] = ['no action', 'restrict', 'cascade', 'set null', 'set default'];

function action(raw: string | undefined): FkAction {
  const a = (raw ?? 'no action').toLowerCase() as FkAction;
  return ACTIONS.includes(a) ? a : 'no action';
}

const schemaOf = (s: string | undefined) => (s ? pgName(s) : 'public');
const names = (list: readonly string[]) => list.map(pgName);

function identity(raw: SnapColumn['identity']): IdentitySpec | undefined {
  if (!raw) return undefined;
  return {
    kind: raw.type === 'byDefault' || raw.type === 'by default' ? 'by default' : 'always',
    start: raw.startWith,
    increment: raw.increment,
    min: raw.minValue,
    max: raw.maxValue,
    cache: raw.cache,
    cycle: raw.cycle,
  };
}

function column(c: SnapColumn): ColumnSpec {
  const serial = SERIAL_TYPES.has(c.type.trim().toLowerCase());
  const spec: ColumnSpec = {
    name: pgName(c.name),
    type: snapshotType(c.type, c.typeSchema),
    notNull: Boolean(c.notNull || c.primaryKey || serial),
  };
  const def = snapshotDefault(c.default);
  if (def !== undefined) spec.default = def;
  if (serial) spec.serial = true;
  const id = identity(c.identity);
  if (id) {
    spec.identity = id;
    spec.notNull = true;
  }
  if (c.generated) spec.generated = c.generated.as.replace(/^\((.*)\)$/s, '$1');
  return spec;
}

function index(i: SnapIndex): IndexSpec {
  return {
    name: pgName(i.name),
    unique: Boolean(i.isUnique),
    method: (i.method ?? 'btree').toLowerCase(),
    columns: i.columns.map((c) => {
      const asc = c.asc !== false;
      return {
        expression: c.isExpression ? c.expression : pgName(c.expression),
        isExpression: Boolean(c.isExpression),
        asc,
        // PostgreSQL's default: NULLS LAST ascending, NULLS FIRST descending.
        nullsFirst: c.nulls ? c.nulls.toLowerCase() === 'first' : !asc,
        ...(c.opclass ? { opclass: c.opclass } : {}),
      };
    }),
    ...(i.where ? { where: i.where } : {}),
    with: Object.entries(i.with ?? {})
      .map(([k, v]) => `${k}=${String(v)}`)
      .sort(),
  };
}

function table(t: SnapTable): TableSpec {
  const schema = schemaOf(t.schema);
  const name = pgName(t.name);
  const cols = Object.values(t.columns ?? {});
  const pkCols = cols.filter((c) => c.primaryKey).map((c) => pgName(c.name));
  const composite = Object.values(t.compositePrimaryKeys ?? {})[0];
  // An inline PRIMARY KEY is named by PostgreSQL (makeObjectName), an explicit one by the SQL.
  const primaryKey = composite
    ? { name: pgName(composite.name), columns: names(composite.columns) }
    : pkCols.length
      ? { name: pgObjectName(name, null, 'pkey'), columns: pkCols }
      : undefined;
  const uniques = [
    ...cols
      .filter((c) => c.isUnique)
      .map((c) => ({
        name: pgName(c.uniqueName ?? `${t.name}_${c.name}_unique`),
        columns: [pgName(c.name)],
        nullsNotDistinct: Boolean(c.nullsNotDistinct),
      })),
    ...Object.values(t.uniqueConstraints ?? {}).map((u) => ({
      name: pgName(u.name),
      columns: names(u.columns),
      nullsNotDistinct: Boolean(u.nullsNotDistinct),
    })),
  ];
  return {
    schema,
    name,
    columns: cols.map(column),
    ...(primaryKey ? { primaryKey } : {}),
    uniques,
    foreignKeys: Object.values(t.foreignKeys ?? {}).map((f) => ({
      name: pgName(f.name),
      columns: names(f.columnsFrom),
      refSchema: schemaOf(f.schemaTo),
      refTable: pgName(f.tableTo),
      refColumns: names(f.columnsTo),
      onDelete: action(f.onDelete),
      onUpdate: action(f.onUpdate),
    })),
    indexes: Object.values(t.indexes ?? {}).map(index),
    checks: Object.values(t.checkConstraints ?? {}).map((c) => ({ name: pgName(c.name), expression: c.value })),
    rls: Boolean(t.isRLSEnabled),
    policies: Object.values(t.policies ?? {}).map((p) => pgName(p.name)),
  };
}

/** Pure: a parsed snapshot as the expected schema. */
export function normaliseSnapshot(snap: DrizzleSnapshot): SchemaSpec {
  const tables = Object.values(snap.tables ?? {}).map(table);
  const enums = Object.values(snap.enums ?? {}).map((e) => ({
    schema: schemaOf(e.schema),
    name: pgName(e.name),
    values: e.values,
  }));
  const sequences = Object.values(snap.sequences ?? {}).map((s) => `${schemaOf(s.schema)}.${pgName(s.name)}`);
  const views = Object.values(snap.views ?? {}).map((v) => `${schemaOf(v.schema)}.${pgName(v.name)}`);
  const schemas = new Set([
    'public',
    ...Object.keys(snap.schemas ?? {}).map(pgName),
    ...tables.map((t) => t.schema),
    ...enums.map((e) => e.schema),
  ]);
  return { schemas: [...schemas].sort(), tables, enums, sequences, views };
}

export function snapshotPath(drizzleDir: string, entry: JournalEntry): string {
  return snapshotFile(drizzleDir, entry);
}

function problem(message: string): UpkitError {
  return new UpkitError({
    code: 'verify.snapshot',
    exit: 'usage',
    message,
    hint:
      'restore the drizzle folder from the release you are running (git ' +
      'checkout -- drizzle), or regenerate it with npm run db:generate',
  });
}

export function readSnapshot(drizzleDir: string, entry: JournalEntry): SchemaSpec {
  const file = snapshotPath(drizzleDir, entry);
  if (!existsSync(file)) throw problem(`the snapshot of journal entry ${entry.tag} is missing: ${file}`);
  let raw: DrizzleSnapshot;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as DrizzleSnapshot;
  } catch (err) {
    throw problem(`${file} is not valid JSON (${(err as Error).message})`);
  }
  if (raw.dialect !== undefined && raw.dialect !== 'postgresql')
    throw problem(`${file} is a ${raw.dialect} snapshot; upkit verifies PostgreSQL only`);
  if (raw.version !== undefined && Number(raw.version) < 7) {
    throw problem(
      `${file} has snapshot version ${raw.version}; upkit reads version 7 ` +
        `(drizzle-kit 0.21 or newer): run npx drizzle-kit up to upgrade the snapshots`,
    );
  }
  return normaliseSnapshot(raw);
}

/** The journal entry to compare with: by idx or tag; the last one when not given. */
export function pickEntry(
  entries: readonly JournalEntry[],
  which: number | string | undefined,
  drizzleDir: string,
): JournalEntry {
  if (entries.length === 0)
    throw problem(`the journal of ${drizzleDir} has no entries, so there is no snapshot to compare with`);
  if (which === undefined) return entries.at(-1)!;
  const found = entries.find((e) =>
    typeof which === 'number' ? e.idx === which : e.tag === which || String(e.idx) === which,
  );
  if (!found)
    throw problem(
      `the journal of ${drizzleDir} has no entry ${which} (it has ${entries.map((e) => e.tag).join(', ')})`,
    );
  return found;
}
