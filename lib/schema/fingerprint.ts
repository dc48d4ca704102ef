// A schema fingerprint: one sorted line per table, column, index, constraint, enum, view
// and trigger of a schema, read from the catalog in one query. Two databases with equal
// fingerprints are the same schema for every purpose upkit cares about; a diff of two
// fingerprints says what differs, line by line. Column order is left out on purpose:
// a legacy install that added a column later is the same schema as a fresh one.
import type { Client } from 'pg';

const QUERY =
  `
with rels as (
  select c.oid, c.relname, c.relkind
    from pg_class c
   where c.relnamespace = to_regnamespace($1)::oid and c.relkind in ('r', 'p', 'v', 'm')
)
select line from (
  select format('table %s%s', r.relname, case when r.relkind = 'p' then ' (partitioned)' else '' end) as line
    from rels r where r.relkind in ('r', 'p')
  union all
  select format('view %s %s', r.relname, regexp_replace(pg_get_viewdef(r.oid), '\\s+', ' ', 'g'))
    from rels r where r.relkind in ('v', 'm')
  union all
  select format('column %s.%s %s%s%s%s%s',
           r.relname, a.attname, format_type(a.atttypid, a.atttypmod),
           case when a.attnotnull then ' not null' else ' null' end,
           case when d.adbin is not null and a.attgenerated = '' ` +
  `then ' default ' || pg_get_expr(d.adbin, d.adrelid) else '' end,
           case a.attidentity when 'a' then ' identity always' when 'd' then ' identity by default' else '' end,
           case when a.attgenerated = 's' then ' generated always ` +
  `as ' || pg_get_expr(d.adbin, d.adrelid) || ' stored' else '' end)
    from rels r
    join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
    left join pg_attrdef d on d.adrelid = r.oid and d.adnum = a.attnum
   where r.relkind in ('r', 'p')
  union all
  select format('index %s.%s%s %s', r.relname, ic.relname, case when i.indisvalid then '' else ' INVALID' end,
           regexp_replace(pg_get_indexdef(i.indexrelid), ' ON [^ ]+ USING ', ' USING '))
    from rels r
    join pg_index i on i.indrelid = r.oid
    join pg_class ic on ic.oid = i.indexrelid
  union all
  -- Not-null constraints (catalogued from PostgreSQL 18) are already in the column lines.
  select format('constraint %s.%s %s %s', r.relname, con.conname, con.contype, pg_get_constraintdef(con.oid))
    from rels r
    join pg_constraint con on con.conrelid = r.oid and con.contype <> 'n'
  union all
  select format('enum %s (%s)', t.typname, string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder))
    from pg_type t
    join pg_enum e on e.enumtypid = t.oid
   where t.typnamespace = to_regnamespace($1)::oid
   group by t.typname
  union all
  select format('trigger %s.%s %s', r.relname, tg.tgname, ` +
  `regexp_replace(pg_get_triggerdef(tg.oid), ' ON [^ ]+ ', ' ON '))
    from rels r
    join pg_trigger tg on tg.tgrelid = r.oid and not tg.tgisinternal
) lines
order by line collate "C"`;

export async function schemaFingerprint(client: Pick<Client, 'query'>, schema = 'public'): Promise<string[]> {
  const { rows } = await client.query<{ line: string }>(QUERY, [schema]);
  return rows.map((r) => r.line);
}

export interface FingerprintDiff {
  missing: string[];
  extra: string[];
}

/** Lines of `expected` absent from `actual` (missing) and lines only in `actual` (extra). */
export function diffFingerprints(expected: readonly string[], actual: readonly string[]): FingerprintDiff {
  const a = new Set(actual);
  const e = new Set(expected);
  return { missing: expected.filter((l) => !a.has(l)), extra: actual.filter((l) => !e.has(l)) };
}
