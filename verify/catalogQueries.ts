// The catalog queries of catalog.ts, kept apart so that the mapping code stays readable.
// They read every user schema, without parameters, so that the four go to the server as
// one batch before the snapshot is parsed: the server works while the client parses.
// Rows carry oids and attribute numbers rather than names where that spares the server a
// lookup per row: names are mapped back in JS from the columns already read. Only checks,
// defaults, predicates and expression index columns are deparsed by the server. Primary
// keys and unique constraints come with the index that backs them.
const USER_SCHEMA = `n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'`;

export const COLUMNS =
  `
select c.oid::int8 as table_oid, n.nspname as schema, c.relname as table, ` +
  `c.relrowsecurity as rls, c.relispartition as partition,
       a.attnum, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
       coalesce(etn.nspname, tn.nspname) as type_schema, a.attnotnull as not_null,
       -- A default cannot refer to a column, so it needs no relation to deparse (much cheaper).
       pg_get_expr(d.adbin, case when a.attgenerated = '' then 0 else d.adrelid end) as default,
       a.attidentity as identity, a.attgenerated as generated
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  left join pg_type t on t.oid = a.atttypid
  left join pg_namespace tn on tn.oid = t.typnamespace
  left join pg_type et on t.typcategory = 'A' and et.oid = t.typelem
  left join pg_namespace etn on etn.oid = et.typnamespace
  left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
 where ${USER_SCHEMA} and c.relkind in ('r', 'p')
 order by c.oid, a.attnum`;

export const INDEXES = (versionNum: number) =>
  `
select i.indrelid::int8 as table_oid, ic.relname as name, i.indisunique as unique, i.indisprimary as primary,
       i.indisvalid and i.indisready as valid, am.amname as method, i.indnkeyatts as nkey,
       i.indkey::text as keys, i.indoption::text as options, i.indclass::text as opclasses,
       case when i.indexprs is not null then
         array(select pg_get_indexdef(i.indexrelid, k, true) from generate_series(1, ` +
  `i.indnkeyatts) k where i.indkey[k - 1] = 0 order by k) end as expressions,
       case when i.indpred is not null then pg_get_expr(i.indpred, ` +
  `i.indrelid, true) end as where, ic.reloptions as with,
       ${versionNum >= 150000 ? 'i.indnullsnotdistinct' : 'false'} as nulls_not_distinct, con.conname as constraint,
       con.contype as constraint_type, con.convalidated as constraint_validated
  from pg_index i
  join pg_class c on c.oid = i.indrelid
  join pg_class ic on ic.oid = i.indexrelid
  join pg_am am on am.oid = ic.relam
  left join pg_constraint con on con.conindid = i.indexrelid and con.conrelid = c.oid and con.contype in ('p', 'u', 'x')
 where c.relnamespace in (select n.oid from pg_namespace n where ${USER_SCHEMA}) and c.relkind in ('r', 'p')`;

export const CONSTRAINTS =
  `
select con.conrelid::int8 as table_oid, con.conname as name, con.contype as type, con.convalidated as validated,
       con.conkey::text as keys, fn.nspname as ref_schema, fc.relname as ref_table, ` +
  `con.confrelid::int8 as ref_oid, con.confkey::text as ref_keys,
       con.confdeltype as on_delete, con.confupdtype as on_update,
       case when con.contype = 'c' then pg_get_expr(con.conbin, con.conrelid) end as check
  from pg_constraint con
  join pg_class c on c.oid = con.conrelid
  left join pg_class fc on fc.oid = con.confrelid
  left join pg_namespace fn on fn.oid = fc.relnamespace
 where c.relnamespace in (select n.oid from pg_namespace n where ${USER_SCHEMA}) and con.contype in ('f', 'c')`;

export const OTHERS =
  `
select 'enum' as kind, n.nspname as schema, t.typname as name,
       array(select e.enumlabel::text from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder) as detail
  from pg_type t join pg_namespace n on n.oid = t.typnamespace
 where t.typtype = 'e' and ${USER_SCHEMA}
union all
select case c.relkind when 'S' then 'sequence' when 'm' then 'matview' else 'view' end, n.nspname, c.relname, null
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('S', 'v', 'm') and ${USER_SCHEMA}
union all
select 'policy', n.nspname, c.relname || '.' || p.polname, null
  from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
 where ${USER_SCHEMA}
union all
select 'trigger', n.nspname, c.relname, array[t.tgname::text, ` +
  `t.tgenabled::text, t.tgisinternal::text, coalesce(con.conname::text, '')]
  from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
  left join pg_constraint con on con.oid = t.tgconstraint
 where ${USER_SCHEMA}
union all
select 'collation', n.nspname, c.relname, array[a.attname::text, ` +
  `co.collname::text, format_type(a.atttypid, a.atttypmod)]
  from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
  join pg_type ty on ty.oid = a.atttypid join pg_collation co on co.oid = a.attcollation
 where a.attnum > 0 and not a.attisdropped and a.attcollation <> 0 and a.attcollation <> ty.typcollation
   and c.relkind in ('r', 'p') and ${USER_SCHEMA}
union all
select 'opclass', null, oc.oid::text, array[oc.opcname::text, oc.opcdefault::text]
  from pg_opclass oc
union all
select 'identity', null, c.oid::int8 || '.' || a.attnum,
       array[s.seqstart::text, s.seqincrement::text, s.seqmin::text, s.seqmax::text, s.seqcache::text, s.seqcycle::text]
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  join pg_depend dep on dep.refclassid = 'pg_class'::regclass and dep.refobjid = c.oid and dep.refobjsubid = a.attnum
   and dep.classid = 'pg_class'::regclass and dep.deptype = 'i'
  join pg_sequence s on s.seqrelid = dep.objid
 where a.attidentity <> '' and ${USER_SCHEMA}`;

/**
 * All four as one simple-protocol batch: one round trip, results in this order. `without`:
 * tables (oids) whose columns, indexes and constraints are left out: deparsing their
 * expressions locks them, and another session holds an exclusive lock on them.
 */
export const catalogBatch = (versionNum: number, without: readonly number[] = []) => {
  const not = without.length ? ` and c.oid <> all('{${without.map((o) => Math.trunc(o)).join(',')}}'::oid[])` : '';
  return [
    COLUMNS.replace('\n order by c.oid', `${not}\n order by c.oid`),
    INDEXES(versionNum) + not,
    CONSTRAINTS + not,
    OTHERS,
  ].join(';\n');
};
