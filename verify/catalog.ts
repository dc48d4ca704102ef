// Reads what the catalog holds for every user schema in one round trip, whatever the number
// of tables: four queries in one batch (columns; indexes; foreign keys and checks; enums,
// views, sequences, policies, operator classes and identity sequences). Only pg_catalog is
// read, which any role may do; nothing here needs a privilege on the tables themselves.
import type { Client } from 'pg';
import type {
  ActualIndex,
  ActualSchema,
  ActualTable,
  ColumnSpec,
  FkAction,
  IdentitySpec,
  IndexColumnSpec,
} from './model.ts';
import { catalogBatch } from './catalogQueries.ts';
import { catalogType } from './sqlText.ts';

type Queryable = Pick<Client, 'query'>;

export interface ServerInfo {
  version: string;
  versionNum: number;
  user: string;
  database: string;
}

export interface Relation {
  name: string;
  exists: boolean;
  readable: boolean;
  /** Row level security applies to the role and no policy lets it read every row: what it reads may lack rows. */
  rowsHidden: boolean;
}

// Row level security hides rows from the current role when it is active for it (not the
// owner unless FORCE, no BYPASSRLS, no superuser: row_security_active()) and no permissive
// SELECT policy of its own is plainly `true` while no restrictive one applies.
const ROWS_HIDDEN = `row_security_active(c.oid) and not (
   exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polpermissive and p.polcmd in ('r', '*')
            and (p.polroles = '{0}' or exists (select 1 from unnest(p.polroles) r where pg_has_role(r, 'MEMBER')))
            and pg_get_expr(p.polqual, p.polrelid) = 'true')
   and not exists (select 1 from pg_policy p where p.polrelid = c.oid and not p.polpermissive and p.polcmd in ('r', '*')
            and (p.polroles = '{0}' or exists (select 1 from unnest(p.polroles) r where pg_has_role(r, 'MEMBER')))))`;

export async function readServerInfo(
  client: Queryable,
  relations: readonly string[],
): Promise<{ server: ServerInfo; relations: Map<string, Relation> }> {
  const { rows } = await client.query<{
    version: string;
    num: string;
    usr: string;
    db: string;
    rels: Array<{ name: string; readable: boolean; hidden: boolean }> | null;
  }>(
    `select current_setting('server_version') as version, current_setting('server_version_num') as num,
            current_user as usr, current_database() as db,
            (select json_agg(json_build_object('name', n.nspname || '.' || c.relname,
                    'readable', has_schema_privilege(n.oid, 'USAGE') and has_table_privilege(c.oid, 'SELECT'),
                    'hidden', ${ROWS_HIDDEN}))
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname || '.' || c.relname = any($1::text[]) and c.relkind in ('r', 'p', 'v', 'm')) as rels`,
    [relations],
  );
  const r = rows[0]!;
  const found = new Map((r.rels ?? []).map((x) => [x.name, x]));
  return {
    server: { version: r.version.split(' ')[0]!, versionNum: Number(r.num), user: r.usr, database: r.db },
    relations: new Map(
      relations.map((name) => [
        name,
        {
          name,
          exists: found.has(name),
          readable: found.get(name)?.readable === true,
          rowsHidden: found.get(name)?.hidden === true,
        },
      ]),
    ),
  };
}

const FK_ACTIONS: Record<string, FkAction> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};

export interface ColumnRow {
  table_oid: string;
  schema: string;
  table: string;
  rls: boolean;
  partition: boolean;
  attnum: number | null;
  column: string | null;
  type: string;
  type_schema: string;
  not_null: boolean;
  default: string | null;
  identity: string;
  generated: string;
}

export interface IndexRow {
  table_oid: string;
  name: string;
  unique: boolean;
  primary: boolean;
  valid: boolean;
  method: string;
  nkey: number;
  keys: string;
  options: string;
  opclasses: string;
  expressions: string[] | null;
  where: string | null;
  with: string[] | null;
  nulls_not_distinct: boolean;
  constraint: string | null;
  constraint_type: string | null;
  constraint_validated: boolean | null;
}

export interface ConstraintRow {
  table_oid: string;
  name: string;
  type: string;
  validated: boolean;
  keys: string | null;
  ref_schema: string | null;
  ref_table: string | null;
  ref_oid: string;
  ref_keys: string | null;
  on_delete: string;
  on_update: string;
  check: string | null;
}

function identitySpec(kind: string, seq: string[] | undefined): IdentitySpec {
  const [start, increment, min, max, cache, cycle] = seq ?? [];
  return {
    kind: kind === 'a' ? 'always' : 'by default',
    ...(seq ? { start, increment, min, max, cache, cycle: cycle === 'true' } : {}),
  };
}

/** int2vector / oidvector text (`1 2`) or an array literal (`{1,2}`) as numbers. */
function numbers(s: string | null): number[] {
  if (!s) return [];
  const body = s.charCodeAt(0) === 123 /* { */ ? s.slice(1, -1) : s;
  if (!body) return [];
  const parts = body.split(body.includes(',') ? ',' : ' ');
  const out = new Array<number>(parts.length);
  for (let i = 0; i < parts.length; i++) out[i] = +parts[i]!;
  return out;
}

/**
 * Every user schema's tables, columns, keys, constraints, indexes, enums, views, sequences and
 * policies, in one round trip. `meanwhile` runs while the server works (the snapshot parse).
 */
export async function readCatalog(
  client: Queryable,
  server: ServerInfo,
  meanwhile: () => void = () => {},
  without: readonly number[] = [],
): Promise<ActualSchema> {
  return mapCatalog(...(await readCatalogRows(client, server, meanwhile, without)));
}

export type OtherRow = { kind: string; schema: string; name: string; detail: string[] | null };
/** The batch's four result sets, as the server sent them (what a shadow database's cache keeps). */
export type CatalogRows = [ColumnRow[], IndexRow[], ConstraintRow[], OtherRow[]];

export async function readCatalogRows(
  client: Queryable,
  server: Pick<ServerInfo, 'versionNum'>,
  meanwhile: () => void = () => {},
  without: readonly number[] = [],
): Promise<CatalogRows> {
  const pending = client.query(catalogBatch(server.versionNum, without)) as unknown as Promise<
    Array<{ rows: unknown[] }>
  >;
  // Settled here so that a failure in meanwhile() does not leave it unhandled.
  pending.catch(() => {});
  meanwhile();
  const [cols, idx, cons, others] = (await pending) as [
    { rows: ColumnRow[] },
    { rows: IndexRow[] },
    { rows: ConstraintRow[] },
    { rows: OtherRow[] },
  ];
  return [cols.rows, idx.rows, cons.rows, others.rows];
}

/** Pure: the batch's rows as the shapes of model.ts. */
export function mapCatalog(
  cols: ColumnRow[],
  idx: IndexRow[],
  cons: ConstraintRow[],
  others: OtherRow[],
): ActualSchema {
  const { tables, names, byName } = tablesOf(cols, others);
  const columnName: ColumnName = (oid, attnum) => names.get(oid)?.get(attnum) ?? `#${attnum}`;
  addIndexes(tables, idx, others, columnName);
  addIndexConstraints(tables, idx, columnName);
  addConstraints(tables, cons, columnName);
  for (const t of tables.values()) {
    // Constraint order follows the catalog's; keep the output stable whatever it is.
    t.indexes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const list of [t.uniques, t.foreignKeys, t.checks])
      list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  const sorted = [...tables.values()].sort((a, b) => (`${a.schema}.${a.name}` < `${b.schema}.${b.name}` ? -1 : 1));
  const out: ActualSchema = {
    schemas: [...new Set(sorted.map((t) => t.schema))],
    tables: sorted,
    enums: [],
    sequences: [],
    views: [],
    policies: [],
  };
  addOthers(out, others, byName);
  return out;
}

/** A column's name from its table's oid and attnum (`#attnum` when the batch has no such column). */
type ColumnName = (oid: string, attnum: number) => string;

/** The tables and their columns, by oid; each table's column names by attnum; the tables by `schema.name`. */
function tablesOf(cols: ColumnRow[], others: OtherRow[]) {
  const tables = new Map<string, ActualTable>();
  const names = new Map<string, Map<number, string>>();
  const byName = new Map<string, ActualTable>();
  const identities = new Map(others.filter((r) => r.kind === 'identity').map((r) => [r.name, r.detail!]));
  for (const r of cols) {
    let t = tables.get(r.table_oid);
    if (!t) {
      t = {
        schema: r.schema,
        name: r.table,
        columns: [],
        uniques: [],
        foreignKeys: [],
        indexes: [],
        checks: [],
        rls: r.rls,
        policies: [],
        partition: r.partition,
        notValidated: [],
      };
      tables.set(r.table_oid, t);
      names.set(r.table_oid, new Map());
      byName.set(`${r.schema}.${r.table}`, t);
    }
    if (r.column === null || r.attnum === null) continue;
    names.get(r.table_oid)!.set(r.attnum, r.column);
    // Built by assignment, not spreads: a large schema has tens of thousands of columns.
    const column: ColumnSpec = { name: r.column, type: catalogType(r.type, r.type_schema), notNull: r.not_null };
    if (r.default !== null) {
      if (r.generated === '') column.default = r.default;
      else if (r.generated === 's') column.generated = r.default;
    }
    if (r.identity) column.identity = identitySpec(r.identity, identities.get(`${r.table_oid}.${r.attnum}`));
    t.columns.push(column);
  }
  return { tables, names, byName };
}

/** Each index on its table: key columns or expressions, order, nulls, a non-default operator class. */
function addIndexes(tables: Map<string, ActualTable>, idx: IndexRow[], others: OtherRow[], columnName: ColumnName) {
  const opclasses = new Map(
    others
      .filter((r) => r.kind === 'opclass')
      .map((r) => [Number(r.name), { name: r.detail![0]!, isDefault: r.detail![1] === 'true' }]),
  );
  for (const r of idx) {
    const t = tables.get(r.table_oid);
    if (!t) continue;
    const keys = numbers(r.keys);
    const options = numbers(r.options);
    const classes = numbers(r.opclasses);
    const expressions = r.expressions ?? [];
    let nextExpression = 0;
    const columns: IndexColumnSpec[] = [];
    for (let k = 0; k < r.nkey; k++) {
      const attnum = keys[k]!;
      const option = options[k] ?? 0;
      const isExpression = attnum === 0;
      const column: IndexColumnSpec = {
        expression: isExpression ? (expressions[nextExpression++] ?? '') : columnName(r.table_oid, attnum),
        isExpression,
        asc: (option & 1) === 0,
        nullsFirst: (option & 2) !== 0,
      };
      const opclass = opclasses.get(classes[k] ?? 0);
      if (opclass && !opclass.isDefault) column.opclass = opclass.name;
      columns.push(column);
    }
    const index: ActualIndex = {
      name: r.name,
      unique: r.unique,
      primary: r.primary,
      valid: r.valid,
      method: r.method,
      columns,
      with: r.with ? [...r.with].sort() : [],
      nullsNotDistinct: r.nulls_not_distinct,
    };
    if (r.where) index.where = r.where;
    if (r.constraint) index.constraint = r.constraint;
    t.indexes.push(index);
  }
}

/** The primary keys and unique constraints, which stand on an index. */
function addIndexConstraints(tables: Map<string, ActualTable>, idx: IndexRow[], columnName: ColumnName) {
  for (const r of idx) {
    const t = tables.get(r.table_oid);
    if (!t || !r.constraint) continue;
    const columns = numbers(r.keys)
      .slice(0, r.nkey)
      .map((n) => columnName(r.table_oid, n));
    if (r.constraint_validated === false) t.notValidated.push(r.constraint);
    if (r.constraint_type === 'p') t.primaryKey = { name: r.constraint, columns };
    if (r.constraint_type === 'u')
      t.uniques.push({ name: r.constraint, columns, nullsNotDistinct: r.nulls_not_distinct });
  }
}

/** The check constraints and foreign keys, and which of them are not validated. */
function addConstraints(tables: Map<string, ActualTable>, cons: ConstraintRow[], columnName: ColumnName) {
  for (const r of cons) {
    const t = tables.get(r.table_oid);
    if (!t) continue;
    const columns = numbers(r.keys).map((n) => columnName(r.table_oid, n));
    if (!r.validated) t.notValidated.push(r.name);
    if (r.type === 'c') t.checks.push({ name: r.name, expression: r.check ?? '' });
    if (r.type === 'f') {
      t.foreignKeys.push({
        name: r.name,
        columns,
        refSchema: r.ref_schema ?? '',
        refTable: r.ref_table ?? '',
        refColumns: numbers(r.ref_keys).map((n) => columnName(r.ref_oid, n)),
        onDelete: FK_ACTIONS[r.on_delete] ?? 'no action',
        onUpdate: FK_ACTIONS[r.on_update] ?? 'no action',
      });
    }
  }
}

/** What is not a table: enums, sequences, views, triggers, collations, and each table's policies. */
function addOthers(out: ActualSchema, others: OtherRow[], byName: Map<string, ActualTable>) {
  for (const r of others) {
    if (r.kind === 'enum') out.enums.push({ schema: r.schema, name: r.name, values: r.detail ?? [] });
    if (r.kind === 'sequence') out.sequences.push(`${r.schema}.${r.name}`);
    if (r.kind === 'view' || r.kind === 'matview') out.views.push(`${r.schema}.${r.name}`);
    if (r.kind === 'matview') {
      out.matviews ??= [];
      out.matviews.push(`${r.schema}.${r.name}`);
    }
    if (r.kind === 'trigger') {
      const [name, enabled, internal, constraint] = r.detail!;
      out.triggers ??= [];
      out.triggers.push({
        schema: r.schema,
        table: r.name,
        name: name!,
        enabled: enabled!,
        internal: internal === 'true',
        constraint: constraint!,
      });
    }
    if (r.kind === 'collation') {
      const [column, collation, type] = r.detail!;
      out.collations ??= [];
      out.collations.push({
        schema: r.schema,
        table: r.name,
        column: column!,
        collation: collation!,
        type: type!,
      });
    }
    if (r.kind === 'policy') {
      out.policies.push(`${r.schema}.${r.name}`);
      const [table, policy] = r.name.split('.');
      byName.get(`${r.schema}.${table}`)?.policies.push(policy!);
    }
  }
}
