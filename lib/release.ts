// Which release is this database at? Answered from the catalog alone (so installs without
// any ledger, or with a hand-edited one, are still recognised) by probing, for each
// release in order, the objects it introduced. The probes are the content's (Pulse's are
// in drizzle/releases.ts); this module only reads the catalog and applies them.
import type { Client } from 'pg';
import { searchPathSchemas } from './pgOptions.ts';
import { pgName } from '../verify/pgName.ts';

/** What the catalog holds, reduced to names: `table`, `table.column`, index and enum names. */
export interface CatalogFacts {
  tables: Set<string>;
  columns: Set<string>;
  indexes: Set<string>;
  constraints: Set<string>;
  enums: Set<string>;
  /** Hashes recorded in drizzle.__drizzle_migrations, if that ledger exists. */
  drizzleHashes: Set<string>;
}

export interface ReleaseProbe {
  release: string;
  /** Every name here must exist for the release to count as present. */
  requires: { tables?: string[]; columns?: string[]; indexes?: string[]; enums?: string[]; drizzleTags?: string[] };
  /** Names that must be gone (a release that replaced them). */
  absent?: { constraints?: string[] };
}

export interface Detection {
  /** The newest release whose probes, and those of every release before it, all pass; null for an empty database. */
  release: string | null;
  /** One line per release probed, for the plan: what was found or missing. */
  evidence: string[];
  /** Objects of releases past the detected one: a partial or hand-edited install. */
  ahead: string[];
}

export async function readCatalogFacts(client: Pick<Client, 'query'>, schema = 'public'): Promise<CatalogFacts> {
  const { rows } = await client.query<{ kind: string; name: string }>(
    `select 'table' as kind, c.relname as name from pg_class c where ` +
      `c.relnamespace = to_regnamespace($1)::oid and c.relkind in ('r', 'p')
     union all
     select 'column', c.relname || '.' || a.attname from pg_class c join ` +
      `pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where c.relnamespace = to_regnamespace($1)::oid and c.relkind in ('r', 'p')
     union all
     select 'index', c.relname from pg_class c where c.relnamespace = to_regnamespace($1)::oid and c.relkind = 'i'
     union all
     select 'constraint', conname from pg_constraint where connamespace = to_regnamespace($1)::oid
     union all
     select 'enum', t.typname from pg_type t where t.typnamespace = to_regnamespace($1)::oid and t.typtype = 'e'`,
    [schema],
  );
  const facts: CatalogFacts = {
    tables: new Set(),
    columns: new Set(),
    indexes: new Set(),
    constraints: new Set(),
    enums: new Set(),
    drizzleHashes: new Set(),
  };
  const sets: Record<string, Set<string>> = {
    table: facts.tables,
    column: facts.columns,
    index: facts.indexes,
    constraint: facts.constraints,
    enum: facts.enums,
  };
  for (const r of rows) sets[r.kind]?.add(r.name);
  const ledger = await client.query<{ exists: boolean }>(
    `select to_regclass('drizzle.__drizzle_migrations') is not null as exists`,
  );
  if (ledger.rows[0]?.exists) {
    const { rows: hashes } = await client.query<{ hash: string }>('select hash from drizzle.__drizzle_migrations');
    for (const h of hashes) facts.drizzleHashes.add(h.hash);
  }
  return facts;
}

/** A probe's name (`table`, `table.column`) as PostgreSQL stores it: each part cut to 63 bytes. */
const stored = (name: string) => name.split('.').map(pgName).join('.');

/** Pure: the release the facts show. `tagHashes` maps drizzle tags to their file hashes. */
export function detectRelease(
  facts: CatalogFacts,
  probes: readonly ReleaseProbe[],
  tagHashes: ReadonlyMap<string, string>,
): Detection {
  const checked = probes.map((probe) => {
    const r = probe.requires;
    const objects = [
      ...(r.tables ?? []).map((t) => [`table ${t}`, facts.tables.has(stored(t))] as const),
      ...(r.columns ?? []).map((c) => [`column ${c}`, facts.columns.has(stored(c))] as const),
      ...(r.indexes ?? []).map((i) => [`index ${i}`, facts.indexes.has(stored(i))] as const),
      ...(r.enums ?? []).map((e) => [`enum ${e}`, facts.enums.has(stored(e))] as const),
    ];
    const ledger = (r.drizzleTags ?? []).map((tag) => {
      const hash = tagHashes.get(tag);
      return [`drizzle ledger entry ${tag}`, Boolean(hash && facts.drizzleHashes.has(hash))] as const;
    });
    const gone = (probe.absent?.constraints ?? []).map(
      (c) => [`constraint ${c} still present`, !facts.constraints.has(stored(c))] as const,
    );
    const found = objects.filter(([, ok]) => ok).map(([name]) => name);
    const missing = [...objects, ...ledger, ...gone].filter(([, ok]) => !ok).map(([name]) => name);
    return { probe, found, missing, objectsOnly: objects.length > 0 };
  });
  // A release that introduced no object (only a ledger entry) is implied by a later one
  // whose objects are all there: an install whose ledger was lost is still past it.
  const passes = checked.map(
    (c, i) =>
      c.missing.length === 0 ||
      (!c.probe.requires.tables &&
        !c.objectsOnly &&
        checked.slice(i + 1).some((l) => l.objectsOnly && l.missing.length === 0)),
  );
  const evidence: string[] = [];
  const ahead: string[] = [];
  let release: string | null = null;
  let broken = false;
  checked.forEach((c, i) => {
    if (passes[i]) {
      evidence.push(
        `${c.probe.release}: ` +
          `${c.missing.length ? `implied by later releases (${c.missing.join(', ')} missing)` : 'present'}`,
      );
      if (broken) ahead.push(`${c.probe.release}: present although an earlier release is incomplete`);
      else release = c.probe.release;
      return;
    }
    evidence.push(`${c.probe.release}: missing ${c.missing.join(', ')}`);
    if (c.found.length)
      ahead.push(`${c.probe.release}: partly present (${c.found.join(', ')}; missing ${c.missing.join(', ')})`);
    broken = true;
  });
  return { release, evidence, ahead };
}

/** Tables of an app's releases found in one schema other than the target. */
export interface SchemaCopy {
  schema: string;
  /** The release its tables show, null when they are only part of one. */
  release: string | null;
  tables: string[];
  /** Whether any of them holds a row. */
  filled: boolean;
}

/**
 * Every schema but `target` (and the system's, upkit's and drizzle's) that holds a table some
 * release introduces, with the release its catalog shows there: an install the target schema
 * does not see, or part of one.
 */
export async function releaseTablesElsewhere(
  client: Pick<Client, 'query'>,
  probes: readonly ReleaseProbe[],
  tagHashes: ReadonlyMap<string, string>,
  target: string,
): Promise<SchemaCopy[]> {
  const names = [...new Set(probes.flatMap((p) => p.requires.tables ?? []))];
  if (names.length === 0) return [];
  const { rows } = await client.query<{ schema: string; tables: string[] }>(
    `select n.nspname as schema, array_agg(c.relname::text order by c.relname) as tables
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and c.relname = any($1::text[]) and n.nspname <> $2
        and n.nspname not like 'pg\\_%' and n.nspname not in ('information_schema', 'upkit', 'drizzle')
      group by n.nspname order by n.nspname`,
    [names, target],
  );
  const copies: SchemaCopy[] = [];
  // Only a schema with every table of the first release can hold an install: the catalog of
  // the others (another app's `users`, say) is not read.
  const first = probes[0]?.requires.tables ?? [];
  for (const r of rows) {
    const whole = first.every((t) => r.tables.includes(t));
    const facts = whole ? await readCatalogFacts(client, r.schema) : null;
    const quoted = (t: string) => `"${r.schema.replace(/"/g, '""')}"."${t.replace(/"/g, '""')}"`;
    const filled = await client.query<{ filled: boolean }>(
      `select ${r.tables.map((t) => `exists (select 1 from ${quoted(t)})`).join(' or ')} as filled`,
    );
    copies.push({
      schema: r.schema,
      release: facts ? detectRelease(facts, probes, tagHashes).release : null,
      tables: r.tables,
      filled: filled.rows[0]?.filled === true,
    });
  }
  return copies;
}

/**
 * The schemas a session of `roles` finds before `target` when it does not pin search_path:
 * its role's and database's search_path setting, else the default `"$user", public`.
 */
export async function schemasAhead(
  client: Pick<Client, 'query'>,
  roles: readonly string[],
  target: string,
): Promise<Map<string, string>> {
  const ahead = new Map<string, string>();
  for (const role of new Set(roles)) {
    const { rows } = await client.query<{ setting: string | null }>(
      `select (select substr(s, length('search_path=') + 1) from pg_db_role_setting d, unnest(d.setconfig) s
                where s like 'search\\_path=%'
                  and d.setrole in (0, coalesce((select oid from pg_roles where rolname = $1), -1))
                  and d.setdatabase in (0, (select oid from pg_database where datname = current_database()))
                order by (d.setrole <> 0 and d.setdatabase <> 0) desc, (d.setrole <> 0) desc limit 1) as setting`,
      [role],
    );
    const setting = rows[0]?.setting ?? null;
    const list = searchPathSchemas(setting ?? '"$user", public').map((s) => (s === '$user' ? role : s));
    const end = list.indexOf(target);
    for (const schema of end === -1 ? list : list.slice(0, end)) {
      if (!ahead.has(schema))
        ahead.set(
          schema,
          setting === null
            ? `named like the role ${role}, which the default search_path "$user", public finds first`
            : `on the search_path ${role} is given (${setting})` +
                `${end === -1 ? `, which does not list ${target}` : ` before ${target}`}`,
        );
    }
  }
  return ahead;
}
