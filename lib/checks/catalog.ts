// What the checks need to know of the relations pending statements name, read in one query:
// where each resolves to (through the session's search_path, as the statement will), its
// owner and whether this role acts as that owner, its write privileges and its columns.
import type { Client } from 'pg';
import { sqlIdent } from '../quote.ts';
import { relKey, type Rel } from './intents.ts';

export interface LiveColumn {
  name: string;
  num: number;
  typid: number;
  type: string;
  notnull: boolean;
}

export interface LiveRelation {
  oid: number;
  kind: string;
  /** `"schema"."name"`, quoted for SQL. */
  qualified: string;
  /** `schema.name`, as a person reads it. */
  shown: string;
  owner: string;
  owns: boolean;
  privileges: { INSERT: boolean; UPDATE: boolean; DELETE: boolean };
  columns: LiveColumn[];
}

export function columnOf(rel: LiveRelation, name: string): LiveColumn | undefined {
  return rel.columns.find((c) => c.name === name);
}

/** The text to_regclass() reads for a relation named in SQL (names as the parser stored them). */
export function regclassText(r: Rel): string {
  return r.schema ? `${sqlIdent(r.schema)}.${sqlIdent(r.name)}` : sqlIdent(r.name);
}

export async function readRelations(
  client: Pick<Client, 'query'>,
  rels: readonly Rel[],
): Promise<Map<string, LiveRelation>> {
  const keys = [...new Map(rels.map((r) => [relKey(r), r])).values()];
  const out = new Map<string, LiveRelation>();
  if (keys.length === 0) return out;
  const { rows } = await client.query<{
    i: string;
    oid: number;
    kind: string;
    schema: string;
    name: string;
    owner: string;
    owns: boolean;
    ins: boolean;
    upd: boolean;
    del: boolean;
    columns: LiveColumn[];
  }>(
    `select n.i, c.oid::int as oid, c.relkind::text as kind, s.nspname as schema, c.relname as name,
            pg_get_userbyid(c.relowner) as owner, pg_has_role(c.relowner, 'USAGE') as owns,
            has_table_privilege(c.oid, 'INSERT') as ins, has_table_privilege(c.oid, ` +
      `'UPDATE') as upd, has_table_privilege(c.oid, 'DELETE') as del,
            coalesce((select json_agg(json_build_object('name', ` +
      `a.attname, 'num', a.attnum, 'typid', a.atttypid::int, 'type', ` +
      `format_type(a.atttypid, a.atttypmod), 'notnull', a.attnotnull) order by a.attnum)
                        from pg_attribute a where a.attrelid = c.oid ` +
      `and a.attnum > 0 and not a.attisdropped), '[]'::json) as columns
       from unnest($1::text[]) with ordinality as n(name, i)
       join pg_class c on c.oid = to_regclass(n.name)
       join pg_namespace s on s.oid = c.relnamespace`,
    [keys.map(regclassText)],
  );
  for (const r of rows) {
    out.set(relKey(keys[Number(r.i) - 1]!), {
      oid: r.oid,
      kind: r.kind,
      qualified: `${sqlIdent(r.schema)}.${sqlIdent(r.name)}`,
      shown: `${r.schema}.${r.name}`,
      owner: r.owner,
      owns: r.owns,
      privileges: { INSERT: r.ins, UPDATE: r.upd, DELETE: r.del },
      columns: r.columns,
    });
  }
  return out;
}

export interface Dependent {
  /** The relation or column depended on: `oid:attnum` (attnum 0 for the whole relation). */
  on: string;
  kind: 'view' | 'materialized view' | 'rule' | 'policy' | 'trigger' | 'foreign key' | 'generated column';
  /** `"schema"."name"` of a view, or the object as pg_describe_object words it. */
  qualified: string;
  shown: string;
  /** For a view: its name, to tell one a pending statement drops. */
  schema: string | null;
  name: string | null;
  /**
   * For a foreign key, trigger or policy: the table it is on and its own name, to tell one a pending statement drops
   * (or whose table it drops).
   */
  owner: { schema: string; name: string } | null;
  object: string | null;
}

/**
 * Objects that make PostgreSQL refuse a column's type change or drop (views and rules through
 * pg_rewrite, policies, triggers on it; for a type change, generated columns computed from it),
 * or a table's drop without CASCADE (those, and foreign keys of other tables). `targets`: oid
 * and attnum, 0 meaning the whole table.
 */
export async function readDependents(
  client: Pick<Client, 'query'>,
  targets: ReadonlyArray<{ oid: number; attnum: number }>,
): Promise<Dependent[]> {
  if (targets.length === 0) return [];
  const { rows } = await client.query<{
    on: string;
    kind: Dependent['kind'];
    schema: string | null;
    name: string | null;
    described: string;
    owner_schema: string | null;
    owner_name: string | null;
    object: string | null;
  }>(
    `with t as (select * from unnest($1::int[], $2::int[]) as t(oid, attnum))
     select distinct t.oid || ':' || t.attnum as on,
            case when d.classid = 'pg_rewrite'::regclass then case v.relkind ` +
      `when 'v' then 'view' when 'm' then 'materialized view' else 'rule' end
                 when d.classid = 'pg_policy'::regclass then 'policy' else 'trigger' end as kind,
            vs.nspname as schema, v.relname as name, pg_describe_object(d.classid, d.objid, d.objsubid) as described,
            os.nspname as owner_schema, o.relname as owner_name, coalesce(tg.tgname, pp.polname)::text as object
       from t join pg_depend d on d.refclassid = 'pg_class'::regclass ` +
      `and d.refobjid = t.oid and (t.attnum = 0 or d.refobjsubid = t.attnum)
       left join pg_rewrite r on d.classid = 'pg_rewrite'::regclass and r.oid = d.objid
       left join pg_class v on v.oid = r.ev_class
       left join pg_namespace vs on vs.oid = v.relnamespace
       left join pg_trigger tg on d.classid = 'pg_trigger'::regclass and tg.oid = d.objid
       left join pg_policy pp on d.classid = 'pg_policy'::regclass and pp.oid = d.objid
       left join pg_class o on o.oid = coalesce(tg.tgrelid, pp.polrelid)
       left join pg_namespace os on os.oid = o.relnamespace
      where d.deptype = 'n' and d.classid in ('pg_rewrite'::regclass, 'pg_policy'::regclass, 'pg_trigger'::regclass)
        and (r.ev_class is null or r.ev_class <> t.oid)
        -- A table's own policies and triggers go with it when ` +
      `it is dropped (a column of it they name is another matter).
        and (t.attnum <> 0 or coalesce(tg.tgrelid, pp.polrelid) is distinct from t.oid)
     union
     select distinct t.oid || ':' || t.attnum, 'generated column', null, null, ` +
      `format('generated column %s of %s', a.attname, ad.adrelid::regclass), null, null, null
       from t join pg_depend d on d.classid = 'pg_attrdef'::regclass and d.refclassid ` +
      `= 'pg_class'::regclass and d.refobjid = t.oid and d.refobjsubid = t.attnum
       join pg_attrdef ad on ad.oid = d.objid
       join pg_attribute a on a.attrelid = ad.adrelid and a.attnum = ad.adnum and a.attgenerated <> ''
      where t.attnum <> 0 and d.deptype = 'n'
     union
     select distinct t.oid || ':0', 'foreign key', null, null, ` +
      `pg_describe_object('pg_constraint'::regclass, k.oid, 0), ks.nspname, kc.relname, k.conname::text
       from t join pg_constraint k on k.contype = 'f' and k.confrelid = t.oid and k.conrelid <> t.oid
       join pg_class kc on kc.oid = k.conrelid join pg_namespace ks on ks.oid = kc.relnamespace
      where t.attnum = 0
      order by 1, 2, 5`,
    [targets.map((t) => t.oid), targets.map((t) => t.attnum)],
  );
  return rows.map((r) => ({
    on: r.on,
    kind: r.kind,
    qualified: r.schema && r.name ? `${sqlIdent(r.schema)}.${sqlIdent(r.name)}` : r.described,
    shown: r.schema && r.name ? `${r.kind} ${r.schema}.${r.name}` : r.described,
    schema: r.schema,
    name: r.name,
    owner: r.owner_schema && r.owner_name ? { schema: r.owner_schema, name: r.owner_name } : null,
    object: r.object,
  }));
}

/** How many rows hold NULL in each column (`qualified` table, column name). */
export async function countNulls(
  client: Pick<Client, 'query'>,
  columns: ReadonlyArray<{ qualified: string; column: string }>,
): Promise<number[]> {
  if (columns.length === 0) return [];
  const sql = columns
    .map((c, i) => `select ${i} as i, count(*)::int as n from ${c.qualified} where ${sqlIdent(c.column)} is null`)
    .join(' union all ');
  const { rows } = await client.query<{ i: number; n: number }>(sql);
  const out = columns.map(() => 0);
  for (const r of rows) out[r.i] = r.n;
  return out;
}

/** Whether each table holds at least one row. */
export async function hasRows(client: Pick<Client, 'query'>, qualified: readonly string[]): Promise<boolean[]> {
  if (qualified.length === 0) return [];
  const sql = qualified.map((q, i) => `select ${i} as i, exists (select 1 from ${q}) as filled`).join(' union all ');
  const { rows } = await client.query<{ i: number; filled: boolean }>(sql);
  const out = qualified.map(() => false);
  for (const r of rows) out[r.i] = r.filled;
  return out;
}

/** The type oid each written type name resolves to (null when it does not exist yet). */
export async function typeOids(
  client: Pick<Client, 'query'>,
  names: ReadonlyArray<{ schema: string | null; name: string }>,
): Promise<Array<number | null>> {
  if (names.length === 0) return [];
  const { rows } = await client.query<{ oid: number | null }>(
    `select to_regtype(n.t)::oid::int as oid from unnest($1::text[]) with ordinality as n(t, i) order by n.i`,
    [names.map((n) => (n.schema ? `${sqlIdent(n.schema)}.${sqlIdent(n.name)}` : sqlIdent(n.name)))],
  );
  return rows.map((r) => r.oid);
}

/**
 * Whether a relation (an index) or a constraint of that name exists on the table: IF NOT EXISTS, or a rerun, finds it.
 */
export async function namedExists(client: Pick<Client, 'query'>, tableOid: number, name: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `select exists (select 1 from pg_constraint where conrelid = $1 and conname = $2)
         or exists (select 1 from pg_class i join pg_class t on t.oid ` +
      `= $1 where i.relname = $2 and i.relnamespace = t.relnamespace) as ok`,
    [tableOid, name],
  );
  return rows[0]!.ok;
}

/** Values that occur in more than one row (NULLs never clash): how many, and up to three with their counts. */
export async function duplicates(
  client: Pick<Client, 'query'>,
  qualified: string,
  expressions: readonly string[],
): Promise<{ groups: number; examples: string[] }> {
  const list = expressions.join(', ');
  const { rows } = await client.query<{ groups: number; examples: string[] | null }>(
    `select count(*)::int as groups, (array_agg(format('%s (%s rows)', v, n) order by n desc, v))[1:3] as examples
       from (select concat_ws(', ', ${expressions.map((e) => `(${e})::text`).join(', ')}) as v, count(*) as n
               from ${qualified} where ${expressions.map((e) => `(${e}) is not null`).join(' and ')}
              group by ${list} having count(*) > 1) d`,
  );
  return { groups: rows[0]!.groups, examples: rows[0]!.examples ?? [] };
}

/** The query that lists rows whose foreign key points at no row, and how many there are. */
export async function orphans(
  client: Pick<Client, 'query'>,
  child: string,
  columns: readonly string[],
  parent: string,
  parentColumns: readonly string[],
): Promise<{ count: number; query: string }> {
  const match = columns.map((c, i) => `p.${sqlIdent(parentColumns[i]!)} = c.${sqlIdent(c)}`).join(' AND ');
  const where =
    `${columns.map((c) => `c.${sqlIdent(c)} IS NOT NULL`).join(' AND ')}` +
    ` AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE ${match})`;
  const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${child} c where ${where}`);
  return { count: rows[0]!.n, query: `SELECT * FROM ${child} c WHERE ${where};` };
}
