// Pure comparison of the expected schema (a drizzle snapshot) with the catalog: tables,
// columns, enums, views and sequences here; keys, constraints and indexes in
// compareConstraints.ts. Missing or different is an error; what a person added by hand is a
// warning, never an error. Each finding may carry `fix`, the SQL that would repair drift by
// hand; hints are chosen later, once the ledgers say whether migrations are pending.
import { compareTableConstraints } from './compareConstraints.ts';
import type { ActualSchema, ActualTable, ColumnSpec, IdentitySpec, SchemaSpec, TableSpec } from './model.ts';
import { KEPT_HINT, qualified, schemaFinding, type SchemaFinding } from './model.ts';
import { sameExpression } from './sqlExpression.ts';
import { ident, sameType, showType, tableRef } from './sqlText.ts';
import { sqlIdent, sqlLiteral } from '../lib/quote.ts';

function columnSql(c: ColumnSpec): string {
  const type = c.serial
    ? (({ integer: 'serial', bigint: 'bigserial', smallint: 'smallserial' } as Record<string, string>)[c.type.name] ??
      showType(c.type))
    : showType(c.type);
  const parts = [ident(c.name), type];
  if (c.identity) parts.push(`GENERATED ${c.identity.kind === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`);
  if (c.generated) parts.push(`GENERATED ALWAYS AS (${c.generated}) STORED`);
  if (c.default !== undefined) parts.push(`DEFAULT ${c.default}`);
  if (c.notNull && !c.identity) parts.push('NOT NULL');
  return parts.join(' ');
}

export function describeColumn(c: ColumnSpec): string {
  return columnSql(c).slice(ident(c.name).length + 1);
}

function identityDiff(e: IdentitySpec, a: IdentitySpec): string[] {
  const out: string[] = [];
  if (e.kind !== a.kind) out.push(`generated ${a.kind}, expected ${e.kind}`);
  for (const k of ['start', 'increment', 'min', 'max', 'cache'] as const) {
    if (e[k] !== undefined && a[k] !== undefined && e[k] !== a[k]) out.push(`${k} ${a[k]}, expected ${e[k]}`);
  }
  if (e.cycle !== undefined && a.cycle !== undefined && e.cycle !== a.cycle)
    out.push(a.cycle ? 'cycles, expected no cycle' : 'does not cycle, expected cycle');
  return out;
}

// Built only for a finding: most columns have none, and a large schema has many columns.
const columnName = (t: TableSpec, c: ColumnSpec) => `${qualified(t.schema, t.name)}.${c.name}`;
const alterColumn = (t: TableSpec, c: ColumnSpec) =>
  `ALTER TABLE ${tableRef(t.schema, t.name)} ALTER COLUMN ${ident(c.name)}`;

function compareColumn(t: TableSpec, e: ColumnSpec, a: ColumnSpec, out: SchemaFinding[]): void {
  if (!sameType(e.type, a.type)) {
    out.push(
      schemaFinding(
        'error',
        'schema.column_type',
        `column ${columnName(t, e)} is ${showType(a.type)}, expected ${showType(e.type)}`,
        `${alterColumn(t, e)} SET DATA TYPE ${showType(e.type)}; (check that every value converts first)`,
      ),
    );
  }
  if (e.notNull !== a.notNull) {
    out.push(
      e.notNull
        ? schemaFinding(
            'error',
            'schema.column_nullability',
            `column ${columnName(t, e)} allows NULL, expected NOT NULL`,
            `${alterColumn(t, e)} SET NOT NULL; (after filling the NULLs)`,
          )
        : schemaFinding(
            'error',
            'schema.column_nullability',
            `column ${columnName(t, e)} is NOT NULL, expected to allow NULL`,
            `${alterColumn(t, e)} DROP NOT NULL;`,
          ),
    );
  }
  if (e.identity || a.identity) {
    if (!e.identity || !a.identity) {
      const what = e.identity
        ? `is not an identity column, expected generated ${e.identity.kind} as identity`
        : `is an identity column (generated ${a.identity!.kind}), expected none`;
      out.push(
        schemaFinding(
          'error',
          'schema.column_identity',
          `column ${columnName(t, e)} ${what}`,
          e.identity
            ? `${alterColumn(t, e)} ADD GENERATED ` +
                `${e.identity.kind === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY;`
            : `${alterColumn(t, e)} DROP IDENTITY;`,
        ),
      );
    } else {
      const diff = identityDiff(e.identity, a.identity);
      if (diff.length)
        out.push(
          schemaFinding('error', 'schema.column_identity', `column ${columnName(t, e)}: identity ${diff.join(', ')}`),
        );
    }
  }
  if (e.generated !== undefined || a.generated !== undefined) {
    if (e.generated === undefined || a.generated === undefined || !sameExpression(e.generated, a.generated, t.name)) {
      out.push(
        schemaFinding(
          'error',
          'schema.column_generated',
          `column ${columnName(t, e)} is ${a.generated ? `generated as (${a.generated})` : 'not generated'}, ` +
            `expected ${e.generated ? `generated as (${e.generated})` : 'a plain column'}`,
        ),
      );
    }
    return;
  }
  if (e.identity) return;
  if (e.serial) {
    if (!a.default || !/^nextval\(/i.test(a.default)) {
      out.push(
        schemaFinding(
          'error',
          'schema.column_default',
          `column ${columnName(t, e)} has ${a.default ? `default ${a.default}` : 'no default'}, ` +
            `expected a serial's nextval() of its own sequence`,
        ),
      );
    }
    return;
  }
  if (e.default === undefined && a.default === undefined) return;
  if (e.default === undefined || a.default === undefined || !sameExpression(e.default, a.default)) {
    const has = a.default === undefined ? 'has no default' : `has default ${a.default}`;
    const want = e.default === undefined ? 'expected none' : `expected ${e.default}`;
    out.push(
      schemaFinding(
        'error',
        'schema.column_default',
        `column ${columnName(t, e)} ${has}, ${want}`,
        e.default === undefined
          ? `${alterColumn(t, e)} DROP DEFAULT;`
          : `${alterColumn(t, e)} SET DEFAULT ${e.default};`,
      ),
    );
  }
}

/**
 * The column a missing one was renamed to: a column the snapshot does not know, of the same
 * type, at the missing column's position (the n-th column of the table, as in the snapshot).
 */
function renamedTo(e: TableSpec, a: ActualTable, col: ColumnSpec, taken: ReadonlySet<string>): ColumnSpec | undefined {
  const expected = new Set(e.columns.map((c) => c.name));
  const at = a.columns[e.columns.indexOf(col)];
  return at && !expected.has(at.name) && !taken.has(at.name) && sameType(col.type, at.type) ? at : undefined;
}

/** The table as it would be once renamed columns (actual name → expected name) are renamed back. */
function renamedBack(a: ActualTable, renamed: ReadonlyMap<string, string>): ActualTable {
  if (!renamed.size) return a;
  const n = (c: string) => renamed.get(c) ?? c;
  // Only for comparing: a column named in an index expression, bare or quoted, by whole word.
  const inExpression = (text: string) =>
    [...renamed].reduce(
      (t, [from, to]) =>
        t.replace(new RegExp(`(?<![\\w$"])("?)${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\1(?![\\w$"])`, 'g'), () =>
          ident(to),
        ),
      text,
    );
  return {
    ...a,
    primaryKey: a.primaryKey && { ...a.primaryKey, columns: a.primaryKey.columns.map(n) },
    uniques: a.uniques.map((u) => ({ ...u, columns: u.columns.map(n) })),
    foreignKeys: a.foreignKeys.map((f) => ({ ...f, columns: f.columns.map(n) })),
    indexes: a.indexes.map((i) => ({
      ...i,
      columns: i.columns.map((c) => ({
        ...c,
        expression: c.isExpression ? inExpression(c.expression) : n(c.expression),
      })),
    })),
  };
}

/** Compares the columns; returns the columns recognised as renamed (actual name → expected name). */
function compareColumns(e: TableSpec, a: ActualTable, out: SchemaFinding[]): Map<string, string> {
  const actual = new Map(a.columns.map((c) => [c.name, c]));
  const renames = new Map<string, string>();
  const renamed = new Set<string>();
  for (const col of e.columns) {
    const found = actual.get(col.name);
    const twin = found ? undefined : renamedTo(e, a, col, renamed);
    if (twin) {
      renamed.add(twin.name);
      renames.set(twin.name, col.name);
      out.push(
        schemaFinding(
          'error',
          'schema.column_renamed',
          `column ${qualified(e.schema, e.name)}.${col.name} is missing: column ${twin.name}, ` +
            `of the same type at its position, holds its data under another name`,
          `ALTER TABLE ${sqlIdent(e.schema)}.${sqlIdent(e.name)}` +
            ` RENAME COLUMN ${sqlIdent(twin.name)} TO ${sqlIdent(col.name)};`,
        ),
      );
      compareColumn(e, col, { ...twin, name: col.name }, out);
      continue;
    }
    if (!found) {
      out.push(
        schemaFinding(
          'error',
          'schema.column_missing',
          `column ${qualified(e.schema, e.name)}.${col.name} is missing (expected ${describeColumn(col)})`,
          `ALTER TABLE ${tableRef(e.schema, e.name)} ADD COLUMN ${columnSql(col)};`,
        ),
      );
      continue;
    }
    compareColumn(e, col, found, out);
  }
  const expected = new Set(e.columns.map((c) => c.name));
  for (const col of a.columns) {
    if (expected.has(col.name) || renamed.has(col.name)) continue;
    const blocking = col.notNull && col.default === undefined && !col.identity && !col.generated;
    out.push(
      schemaFinding(
        'warning',
        'schema.extra_column',
        `column ${qualified(a.schema, a.name)}.${col.name} (${describeColumn(col)}` +
          `) is not in the snapshot: added by hand?`,
        undefined,
        blocking
          ? `the app does not fill it, so its inserts fail while it is NOT NULL without a default: ` +
              `ALTER TABLE ${tableRef(a.schema, a.name)} ALTER COLUMN ` +
              `${ident(col.name)} DROP NOT NULL; (or give it a default)`
          : KEPT_HINT,
      ),
    );
  }
  return renames;
}

function compareEnums(expected: SchemaSpec, actual: ActualSchema, out: SchemaFinding[]): void {
  const found = new Map(actual.enums.map((e) => [`${e.schema}.${e.name}`, e]));
  for (const e of expected.enums) {
    const name = qualified(e.schema, e.name);
    const a = found.get(`${e.schema}.${e.name}`);
    found.delete(`${e.schema}.${e.name}`);
    const list = (values: string[]) => `(${values.map((v) => `'${v}'`).join(', ')})`;
    if (!a) {
      out.push(
        schemaFinding(
          'error',
          'schema.enum_missing',
          `enum ${name} ${list(e.values)} is missing`,
          `CREATE TYPE ${tableRef(e.schema, e.name)} AS ENUM ${list(e.values)};`,
        ),
      );
      continue;
    }
    if (a.values.join('\u0000') === e.values.join('\u0000')) continue;
    const positions = e.values.map((v) => a.values.indexOf(v));
    const inOrder = positions.every((p, i) => p !== -1 && (i === 0 || p > positions[i - 1]!));
    if (inOrder) {
      const extra = a.values.filter((v) => !e.values.includes(v));
      out.push(
        schemaFinding(
          'warning',
          'schema.enum_extra_value',
          `enum ${name} has ${list(a.values)}: ${list(extra)} added by hand?`,
          undefined,
          KEPT_HINT,
        ),
      );
      continue;
    }
    const missing = e.values.filter((v) => !a.values.includes(v));
    const fixes = missing.map((v) => {
      const i = e.values.indexOf(v);
      const after = e.values
        .slice(0, i)
        .reverse()
        .find((x) => a.values.includes(x));
      return (
        `ALTER TYPE ${tableRef(e.schema, e.name)} ADD VALUE ${sqlLiteral(v)}` +
        `${after ? ` AFTER ${sqlLiteral(after)}` : e.values[i + 1] ? ` BEFORE ${sqlLiteral(e.values[i + 1]!)}` : ''};`
      );
    });
    const why = missing.length ? `missing ${list(missing)}` : 'values in another order';
    out.push(
      schemaFinding(
        'error',
        'schema.enum_values',
        `enum ${name} has ${list(a.values)}, expected ${list(e.values)}: ${why}`,
        fixes.join(' ') || undefined,
      ),
    );
  }
  for (const a of found.values()) {
    if (!expected.schemas.includes(a.schema)) continue;
    out.push(
      schemaFinding(
        'warning',
        'schema.extra_enum',
        `enum ${qualified(a.schema, a.name)} is not in the snapshot: added by hand?`,
        undefined,
        KEPT_HINT,
      ),
    );
  }
}

/**
 * What changes behaviour without changing a column or a key, and what is added beside them:
 * disabled triggers (a foreign key's internal triggers disabled by DISABLE TRIGGER ALL: the
 * key is no longer enforced), a column collation other than its type's, triggers and
 * materialized views the snapshot does not have.
 */
function compareBehaviour(expected: SchemaSpec, actual: ActualSchema, out: SchemaFinding[]): void {
  const known = new Set(expected.tables.map((t) => `${t.schema}.${t.name}`));
  const compared = (schema: string, table: string) => known.has(`${schema}.${table}`);
  const disabled = new Map<string, Set<string>>();
  for (const t of actual.triggers ?? []) {
    if (!compared(t.schema, t.table)) continue;
    const off = t.enabled === 'D' || t.enabled === 'R';
    if (t.internal) {
      if (off) {
        const key = `${t.schema}.${t.table}`;
        if (!disabled.has(key)) disabled.set(key, new Set());
        disabled.get(key)!.add(t.constraint || t.name);
      }
      continue;
    }
    if (expected.knownTriggers?.includes(`${t.schema}.${t.table}.${t.name}`)) continue;
    const state =
      t.enabled === 'D' ? ' (disabled)' : t.enabled === 'R' ? ' (replica only)' : t.enabled === 'A' ? ' (always)' : '';
    out.push(
      schemaFinding(
        'warning',
        'schema.extra_trigger',
        `trigger ${t.name} on table ${qualified(t.schema, t.table)}${state} is not in the snapshot: added by hand?`,
        undefined,
        KEPT_HINT,
      ),
    );
  }
  for (const [key, constraints] of disabled) {
    const [schema, table] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
    const list = [...constraints].sort().join(', ');
    out.push(
      schemaFinding(
        'error',
        'schema.trigger_disabled',
        `table ${qualified(schema, table)} has its foreign keys' triggers disabled (DISABLE ` +
          `TRIGGER ALL?): ${list} ${constraints.size === 1 ? 'is' : 'are'} not enforced`,
        `ALTER TABLE ${sqlIdent(schema)}.${sqlIdent(table)} ENABLE TRIGGER ALL;`,
      ),
    );
  }
  for (const c of actual.collations ?? []) {
    const t = expected.tables.find((x) => x.schema === c.schema && x.name === c.table);
    if (
      !t?.columns.some((x) => x.name === c.column) ||
      expected.knownCollations?.includes(`${c.schema}.${c.table}.${c.column} ${c.collation}`)
    )
      continue;
    out.push(
      schemaFinding(
        'error',
        'schema.column_collation',
        `column ${qualified(c.schema, c.table)}.${c.column} has collation ${sqlIdent(c.collation)}` +
          `, expected its type's default (comparisons, sorting and unique indexes change)`,
        `ALTER TABLE ${sqlIdent(c.schema)}.${sqlIdent(c.table)}` +
          ` ALTER COLUMN ${sqlIdent(c.column)} TYPE ${c.type} COLLATE "default";`,
      ),
    );
  }
  for (const m of actual.matviews ?? []) {
    const schema = m.slice(0, m.indexOf('.'));
    if (!expected.schemas.includes(schema) || expected.views.includes(m)) continue;
    out.push(
      schemaFinding(
        'warning',
        'schema.extra_matview',
        `materialized view ${m.replace(/^public\./, '')} is not in the snapshot: added by hand?`,
        undefined,
        KEPT_HINT,
      ),
    );
  }
}

/** Pure: every difference between the expected schema and the catalog. */
export function compareSchema(expected: SchemaSpec, actual: ActualSchema): SchemaFinding[] {
  const out: SchemaFinding[] = [];
  const tables = new Map(actual.tables.map((t) => [`${t.schema}.${t.name}`, t]));
  const movedAway = new Set<string>();
  for (const e of expected.tables) {
    const a = tables.get(`${e.schema}.${e.name}`);
    if (!a) {
      const elsewhere = actual.tables.filter(
        (t) =>
          t.name === e.name &&
          t.schema !== e.schema &&
          !expected.tables.some((x) => x.schema === t.schema && x.name === t.name),
      );
      const moved = elsewhere.length === 1 ? elsewhere[0]! : undefined;
      if (moved) {
        movedAway.add(`${moved.schema}.${moved.name}`);
        out.push(
          schemaFinding(
            'error',
            'schema.table_moved',
            `table ${qualified(e.schema, e.name)} is missing from schema ${e.schema}: it is in schema ` +
              `${moved.schema} (${moved.columns.length} column${moved.columns.length === 1 ? '' : 's'}), moved there`,
            `ALTER TABLE ${sqlIdent(moved.schema)}.${sqlIdent(moved.name)} SET SCHEMA ${sqlIdent(e.schema)};`,
          ),
        );
        continue;
      }
      out.push(schemaFinding('error', 'schema.table_missing', `table ${qualified(e.schema, e.name)} is missing`));
      continue;
    }
    const renamed = compareColumns(e, a, out);
    out.push(...compareTableConstraints(e, renamedBack(a, renamed)));
    if (e.rls !== a.rls) {
      out.push(
        e.rls
          ? schemaFinding(
              'error',
              'schema.rls',
              `row level security is off on table ${qualified(e.schema, e.name)}, expected on`,
              `ALTER TABLE ${tableRef(e.schema, e.name)} ENABLE ROW LEVEL SECURITY;`,
            )
          : schemaFinding(
              'warning',
              'schema.rls',
              `row level security is on on table ${qualified(e.schema, e.name)}, the snapshot has it off`,
              undefined,
              KEPT_HINT,
            ),
      );
    }
    for (const p of e.policies) {
      if (!a.policies.includes(p))
        out.push(
          schemaFinding(
            'error',
            'schema.policy_missing',
            `policy ${p} on table ${qualified(e.schema, e.name)} is missing`,
          ),
        );
    }
  }
  const expectedTables = new Set(expected.tables.map((t) => `${t.schema}.${t.name}`));
  for (const a of actual.tables) {
    if (
      expectedTables.has(`${a.schema}.${a.name}`) ||
      movedAway.has(`${a.schema}.${a.name}`) ||
      a.partition ||
      !expected.schemas.includes(a.schema)
    )
      continue;
    out.push(
      schemaFinding(
        'warning',
        'schema.extra_table',
        `table ${qualified(a.schema, a.name)} (${a.columns.length} column` +
          `${a.columns.length === 1 ? '' : 's'}) is not in the snapshot: added by hand?`,
        undefined,
        KEPT_HINT,
      ),
    );
  }
  compareEnums(expected, actual, out);
  compareBehaviour(expected, actual, out);
  for (const s of expected.sequences)
    if (!actual.sequences.includes(s))
      out.push(schemaFinding('error', 'schema.sequence_missing', `sequence ${s.replace(/^public\./, '')} is missing`));
  for (const v of expected.views)
    if (!actual.views.includes(v))
      out.push(schemaFinding('error', 'schema.view_missing', `view ${v.replace(/^public\./, '')} is missing`));
  return out;
}
