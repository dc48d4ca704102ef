// Pure comparison of one table's keys, constraints and indexes with the catalog's. Objects
// are matched by name, as drizzle-kit's later migrations will refer to them by name; one
// that is missing under its name but present under another with the same definition is a
// rename (a warning), not a loss.
import type { ActualIndex, ActualTable, CheckSpec, ForeignKeySpec, IndexSpec, TableSpec, UniqueSpec } from './model.ts';
import { KEPT_HINT, qualified, schemaFinding, type SchemaFinding } from './model.ts';
import { sameColumnName, sameExpression } from './sqlExpression.ts';
import { ident, tableRef } from './sqlText.ts';

const cols = (c: readonly string[]) => `(${c.join(', ')})`;
const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function indexColumnText(c: IndexSpec['columns'][number]): string {
  return (
    `${c.expression}${c.opclass ? ` ${c.opclass}` : ''}${c.asc ? '' : ' DESC'}` +
    `${c.nullsFirst === !c.asc ? '' : c.nullsFirst ? ' NULLS FIRST' : ' NULLS LAST'}`
  );
}

export function describeIndex(i: IndexSpec): string {
  return (
    `${i.unique ? 'unique ' : ''}${i.method} (${i.columns.map(indexColumnText).join(', ')}` +
    `)${i.with.length ? ` with (${i.with.join(', ')})` : ''}${i.where ? ` where ${i.where}` : ''}`
  );
}

/** What differs between two index definitions, one phrase each; empty when they are the same. */
export function indexDiff(e: IndexSpec, a: IndexSpec, table?: string): string[] {
  const out: string[] = [];
  if (e.unique !== a.unique) out.push(e.unique ? 'not unique, expected unique' : 'unique, expected not unique');
  if (e.method !== a.method) out.push(`method ${a.method}, expected ${e.method}`);
  const sameColumns =
    e.columns.length === a.columns.length &&
    e.columns.every((c, k) => {
      const x = a.columns[k]!;
      const sameKey =
        c.isExpression || x.isExpression
          ? sameExpression(c.expression, x.expression, table)
          : sameColumnName(c.expression, x.expression);
      return sameKey && c.asc === x.asc && c.nullsFirst === x.nullsFirst && (c.opclass ?? '') === (x.opclass ?? '');
    });
  if (!sameColumns)
    out.push(
      `columns (${a.columns.map(indexColumnText).join(', ')}), expected (${e.columns.map(indexColumnText).join(', ')})`,
    );
  if (
    (e.where === undefined) !== (a.where === undefined) ||
    (e.where !== undefined && !sameExpression(e.where, a.where!, table))
  ) {
    out.push(`${a.where ? `where ${a.where}` : 'no where clause'}, expected ${e.where ? `where ${e.where}` : 'none'}`);
  }
  if (!sameList(e.with, a.with)) out.push(`with (${a.with.join(', ')}), expected (${e.with.join(', ')})`);
  return out;
}

export function createIndexSql(t: { schema: string; name: string }, i: IndexSpec): string {
  const using = i.method === 'btree' ? '' : ` USING ${i.method}`;
  const withSql = i.with.length ? ` WITH (${i.with.join(', ')})` : '';
  return (
    `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${ident(i.name)} ON ${tableRef(t.schema, t.name)}` +
    `${using} (${i.columns.map(indexColumnText).join(', ')})${withSql}${i.where ? ` WHERE ${i.where}` : ''};`
  );
}

function fkDiff(e: ForeignKeySpec, a: ForeignKeySpec): string[] {
  const out: string[] = [];
  if (!sameList(e.columns, a.columns)) out.push(`columns ${cols(a.columns)}, expected ${cols(e.columns)}`);
  if (e.refSchema !== a.refSchema || e.refTable !== a.refTable || !sameList(e.refColumns, a.refColumns)) {
    out.push(
      `references ${qualified(a.refSchema, a.refTable)}${cols(a.refColumns)}` +
        `, expected ${qualified(e.refSchema, e.refTable)}${cols(e.refColumns)}`,
    );
  }
  if (e.onDelete !== a.onDelete) out.push(`on delete ${a.onDelete}, expected ${e.onDelete}`);
  if (e.onUpdate !== a.onUpdate) out.push(`on update ${a.onUpdate}, expected ${e.onUpdate}`);
  return out;
}

function fkSql(t: TableSpec, f: ForeignKeySpec): string {
  const table = tableRef(t.schema, t.name);
  return (
    `ALTER TABLE ${table} ADD CONSTRAINT ${ident(f.name)} FOREIGN KEY ${cols(f.columns.map(ident))}` +
    ` REFERENCES ${tableRef(f.refSchema, f.refTable)}${cols(f.refColumns.map(ident))}` +
    ` ON DELETE ${f.onDelete.toUpperCase()} NOT VALID; ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(f.name)};`
  );
}

interface Kind<T extends { name: string }> {
  what: string;
  code: string;
  diff(e: T, a: T, table: string): string[];
  describe(x: T): string;
  fix?(t: TableSpec, e: T): string;
}

/** Matches expected objects to actual ones by name, then by definition for renames. */
function matchByName<T extends { name: string }>(
  t: TableSpec,
  a: ActualTable,
  expected: readonly T[],
  actual: readonly T[],
  kind: Kind<T>,
  out: SchemaFinding[],
  notValid?: string,
): Set<string> {
  const used = new Set<string>();
  const byName = new Map(actual.map((x) => [x.name, x]));
  const table = qualified(t.schema, t.name);
  for (const e of expected) {
    const found = byName.get(e.name);
    if (found) {
      used.add(found.name);
      const diff = kind.diff(e, found, t.name);
      if (diff.length)
        out.push(
          schemaFinding('error', `${kind.code}_definition`, `${kind.what} ${e.name} on ${table}: ${diff.join('; ')}`),
        );
      if (notValid && a.notValidated.includes(found.name) && !t.notValidated?.includes(e.name)) {
        out.push(
          schemaFinding(
            'warning',
            notValid,
            `${kind.what} ${e.name} on ${table} is NOT VALID: rows from before it was added were never checked`,
            undefined,
            `run in psql: ALTER TABLE ${tableRef(t.schema, t.name)} VALIDATE CONSTRAINT ${ident(e.name)};`,
          ),
        );
      }
      continue;
    }
    const twin = actual.find(
      (x) => !used.has(x.name) && !expected.some((y) => y.name === x.name) && kind.diff(e, x, t.name).length === 0,
    );
    if (twin) {
      used.add(twin.name);
      const rename =
        kind.what === 'index'
          ? `ALTER INDEX ${tableRef(t.schema, twin.name)} RENAME TO ${ident(e.name)};`
          : `ALTER TABLE ${tableRef(t.schema, t.name)} RENAME CONSTRAINT ${ident(twin.name)} TO ${ident(e.name)};`;
      out.push(
        schemaFinding(
          'warning',
          'schema.renamed',
          `${kind.what} ${e.name} on ${table} exists as ${twin.name}`,
          undefined,
          `later migrations refer to it by name: ${rename}`,
        ),
      );
      continue;
    }
    out.push(
      schemaFinding(
        'error',
        `${kind.code}_missing`,
        `${kind.what} ${e.name} on ${table} is missing (expected ${kind.describe(e)})`,
        kind.fix?.(t, e),
      ),
    );
  }
  return used;
}

const FK: Kind<ForeignKeySpec> = {
  what: 'foreign key',
  code: 'schema.fk',
  diff: fkDiff,
  describe: (f) =>
    `${cols(f.columns)} references ${qualified(f.refSchema, f.refTable)}${cols(f.refColumns)} on delete ${f.onDelete}`,
  fix: fkSql,
};

const UNIQUE: Kind<UniqueSpec> = {
  what: 'unique constraint',
  code: 'schema.unique',
  diff: (e, a) => [
    ...(sameList(e.columns, a.columns) ? [] : [`columns ${cols(a.columns)}, expected ${cols(e.columns)}`]),
    ...(e.nullsNotDistinct === a.nullsNotDistinct
      ? []
      : [
          e.nullsNotDistinct
            ? 'nulls distinct, expected nulls not distinct'
            : 'nulls not distinct, expected nulls distinct',
        ]),
  ],
  describe: (u) => `unique ${cols(u.columns)}${u.nullsNotDistinct ? ' nulls not distinct' : ''}`,
  fix: (t, u) =>
    `ALTER TABLE ${tableRef(t.schema, t.name)} ADD CONSTRAINT ${ident(u.name)}` +
    ` UNIQUE${u.nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''} ${cols(u.columns.map(ident))};`,
};

const CHECK: Kind<CheckSpec> = {
  what: 'check constraint',
  code: 'schema.check',
  diff: (e, a, table) =>
    sameExpression(e.expression, a.expression, table) ? [] : [`is (${a.expression}), expected (${e.expression})`],
  describe: (c) => `check (${c.expression})`,
  fix: (t, c) =>
    `ALTER TABLE ${tableRef(t.schema, t.name)} ADD CONSTRAINT ${ident(c.name)} CHECK (${c.expression}) NOT VALID;`,
};

const INDEX: Kind<ActualIndex | IndexSpec> = {
  what: 'index',
  code: 'schema.index',
  diff: indexDiff,
  describe: describeIndex,
  fix: createIndexSql,
};

export function compareTableConstraints(t: TableSpec, a: ActualTable): SchemaFinding[] {
  const out: SchemaFinding[] = [];
  const table = qualified(t.schema, t.name);
  if (t.primaryKey && !a.primaryKey) {
    out.push(
      schemaFinding(
        'error',
        'schema.pk_missing',
        `primary key of ${table} is missing (expected ${cols(t.primaryKey.columns)})`,
        `ALTER TABLE ${tableRef(t.schema, t.name)} ADD CONSTRAINT ${ident(t.primaryKey.name)}` +
          ` PRIMARY KEY ${cols(t.primaryKey.columns.map(ident))};`,
      ),
    );
  } else if (t.primaryKey && a.primaryKey) {
    if (!sameList(t.primaryKey.columns, a.primaryKey.columns)) {
      out.push(
        schemaFinding(
          'error',
          'schema.pk_definition',
          `primary key of ${table} is ${cols(a.primaryKey.columns)}, expected ${cols(t.primaryKey.columns)}`,
        ),
      );
    } else if (t.primaryKey.name !== a.primaryKey.name) {
      out.push(
        schemaFinding(
          'warning',
          'schema.renamed',
          `primary key ${t.primaryKey.name} on ${table} exists as ${a.primaryKey.name}`,
          undefined,
          `later migrations refer to it by name: ALTER TABLE ${tableRef(t.schema, t.name)}` +
            ` RENAME CONSTRAINT ${ident(a.primaryKey.name)} TO ${ident(t.primaryKey.name)};`,
        ),
      );
    }
  } else if (!t.primaryKey && a.primaryKey) {
    out.push(
      schemaFinding(
        'warning',
        'schema.extra_constraint',
        `primary key ${a.primaryKey.name} ${cols(a.primaryKey.columns)}` +
          ` on ${table} is not in the snapshot: added by hand?`,
        undefined,
        KEPT_HINT,
      ),
    );
  }

  const extras: Array<[string, string]> = [];
  const usedUnique = matchByName(t, a, t.uniques, a.uniques, UNIQUE, out);
  for (const u of a.uniques.filter((u) => !usedUnique.has(u.name))) extras.push([u.name, UNIQUE.describe(u)]);
  const usedFk = matchByName(t, a, t.foreignKeys, a.foreignKeys, FK, out, 'schema.fk_not_valid');
  for (const f of a.foreignKeys.filter((f) => !usedFk.has(f.name))) {
    extras.push([f.name, `foreign key ${FK.describe(f)}`]);
  }
  const usedCheck = matchByName(t, a, t.checks, a.checks, CHECK, out, 'schema.check_not_valid');
  for (const c of a.checks.filter((c) => !usedCheck.has(c.name))) extras.push([c.name, CHECK.describe(c)]);
  for (const [name, what] of extras) {
    out.push(
      schemaFinding(
        'warning',
        'schema.extra_constraint',
        `constraint ${name} on ${table} (${what}) is not in the snapshot: added by hand?`,
        undefined,
        KEPT_HINT,
      ),
    );
  }

  // Indexes that back a constraint were compared as that constraint.
  const plain = a.indexes.filter((i) => !i.constraint);
  const invalid = new Set(plain.filter((i) => !i.valid).map((i) => i.name));
  const usedIndex = matchByName(t, a, t.indexes, plain, INDEX, out);
  for (const e of t.indexes) {
    if (!invalid.has(e.name)) continue;
    out.push(
      schemaFinding(
        'error',
        'schema.index_invalid',
        `index ${e.name} on ${table} is INVALID: a CREATE INDEX CONCURRENTLY failed ` +
          `and left it unused by queries${e.unique ? ' (duplicate values?)' : ''}`,
        `DROP INDEX CONCURRENTLY ${tableRef(t.schema, e.name)}; ${createIndexSql(t, e)}`,
        `${e.unique ? 'remove the duplicates it found first, then ' : ''}run in psql: ` +
          `REINDEX INDEX CONCURRENTLY ${tableRef(t.schema, e.name)};`,
      ),
    );
  }
  for (const i of plain) {
    if (usedIndex.has(i.name)) continue;
    out.push(
      schemaFinding(
        'warning',
        'schema.extra_index',
        `index ${i.name} on ${table} (${describeIndex(i)}` +
          `)${i.valid ? '' : ', INVALID,'} is not in the snapshot: added by hand?`,
        undefined,
        i.valid
          ? KEPT_HINT
          : `it is INVALID and only slows writes: DROP INDEX CONCURRENTLY ${tableRef(a.schema, i.name)};`,
      ),
    );
  }
  return out;
}
