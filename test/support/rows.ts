// Row-level evidence that data survived: every row of every table in a schema, keyed by
// its primary key, as JSON. Two snapshots can then be compared row by row, allowing only
// the transformations a release is documented to make.
import type { Client } from 'pg';

export type TableRows = Map<string, Record<string, unknown>>;
export type RowSnapshot = Map<string, TableRows>;

export async function rowSnapshot(client: Pick<Client, 'query'>, schema = 'public'): Promise<RowSnapshot> {
  const { rows: tables } = await client.query<{ table: string; key: string[] }>(
    `select c.relname as table,
            array(select a.attname::text from unnest(i.indkey) ` +
      `k join pg_attribute a on a.attrelid = c.oid and a.attnum = k order by a.attname) as key
       from pg_class c
       left join pg_index i on i.indrelid = c.oid and i.indisprimary
      where c.relnamespace = to_regnamespace($1)::oid and c.relkind = 'r'
      order by c.relname`,
    [schema],
  );
  const snapshot: RowSnapshot = new Map();
  for (const { table, key } of tables) {
    const ident = `${schema}.${table}`
      .split('.')
      .map((p) => `"${p.replace(/"/g, '""')}"`)
      .join('.');
    const keyExpr = key.length ? key.map((k) => `t."${k}"::text`).join(` || '|' || `) : 'md5(t::text)';
    const { rows } = await client.query<{ k: string; row: Record<string, unknown> }>(
      `select ${keyExpr} as k, to_jsonb(t) as row from ${ident} t`,
    );
    snapshot.set(table, new Map(rows.map((r) => [r.k, r.row])));
  }
  return snapshot;
}

/** A row as it should look after an upgrade, or `undefined` to compare it unchanged. */
export type Transform = (table: string, row: Record<string, unknown>) => Record<string, unknown>;

export const unchanged: Transform = (_t, row) => row;

/**
 * Every row of `before` exists in `after` with the same values for the columns it had
 * (after `transform`); columns added since may hold anything. Returns what differs.
 */
export function lostOrChanged(before: RowSnapshot, after: RowSnapshot, transform: Transform = unchanged): string[] {
  const problems: string[] = [];
  for (const [table, rows] of before) {
    const later = after.get(table);
    if (!later) {
      if (rows.size) problems.push(`${table}: table gone with ${rows.size} rows`);
      continue;
    }
    for (const [key, row] of rows) {
      const now = later.get(key);
      if (!now) {
        problems.push(`${table} ${key}: row lost`);
        continue;
      }
      const expected = transform(table, row);
      for (const [col, value] of Object.entries(expected)) {
        if (JSON.stringify(now[col]) !== JSON.stringify(value)) {
          problems.push(`${table} ${key}.${col}: ${JSON.stringify(value)} became ${JSON.stringify(now[col])}`);
        }
      }
    }
  }
  return problems;
}

/** The legacy era's documented changes: lower-cased emails, merged feature flags. */
export const legacyTransforms: Transform = (table, row) => {
  if (table === 'users') return { ...row, email: String(row.email).toLowerCase() };
  if (table === 'organizations' && row.features_enabled) {
    // Merged: every key the organization had keeps its value; new keys may be added.
    const { features_enabled: flags, ...rest } = row;
    return {
      ...rest,
      ...Object.fromEntries(
        Object.entries(flags as Record<string, unknown>).map(([k, v]) => [`features_enabled.${k}`, v]),
      ),
    };
  }
  return row;
};

/** All of PLATFORM.md's documented changes of an upgrade: the legacy ones, and v2.3's status enum. */
export const upgradeTransforms: Transform = (table, row) => {
  const r = legacyTransforms(table, row);
  if (table === 'aws_integrations' && typeof r.status === 'string') {
    const s = r.status.trim().toLowerCase();
    return { ...r, status: ['active', 'paused', 'error'].includes(s) ? s : 'error' };
  }
  return r;
};

/** Flattens organizations.features_enabled so legacyTransforms' per-key expectations can be checked. */
export function flattenFlags(snapshot: RowSnapshot): RowSnapshot {
  const orgs = snapshot.get('organizations');
  if (!orgs) return snapshot;
  const flat: TableRows = new Map();
  for (const [k, row] of orgs) {
    const flags = (row.features_enabled ?? {}) as Record<string, unknown>;
    flat.set(k, { ...row, ...Object.fromEntries(Object.entries(flags).map(([f, v]) => [`features_enabled.${f}`, v])) });
  }
  return new Map([...snapshot, ['organizations', flat]]);
}
