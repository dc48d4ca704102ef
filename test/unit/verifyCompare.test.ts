import { beforeAll, describe, expect, it } from 'vitest';
import { compareSchema } from '../../verify/compareSchema.ts';
import { describeIndex, indexDiff } from '../../verify/compareConstraints.ts';
import { assignSchemaHints } from '../../verify/engine.ts';
import type { ActualIndex, ActualSchema, ActualTable, IndexSpec, SchemaSpec, TableSpec } from '../../verify/model.ts';
import { expressionParserReady } from '../../verify/sqlExpression.ts';

beforeAll(() => expressionParserReady());

const idx = (name: string, expression: string, more: Partial<IndexSpec> = {}): IndexSpec => ({
  name,
  unique: false,
  method: 'btree',
  columns: [{ expression, isExpression: /\(/.test(expression), asc: true, nullsFirst: false }],
  with: [],
  ...more,
});

function expectedUsers(): TableSpec {
  return {
    schema: 'public',
    name: 'users',
    columns: [
      { name: 'id', type: { name: 'uuid' }, notNull: true, default: 'gen_random_uuid()' },
      { name: 'org_id', type: { name: 'uuid' }, notNull: true },
      { name: 'email', type: { name: 'character varying(255)' }, notNull: true },
      { name: 'role', type: { name: 'character varying(50)' }, notNull: true, default: `'member'` },
      { name: 'status', type: { name: 'state', schema: 'public' }, notNull: true, default: `'active'` },
    ],
    primaryKey: { name: 'users_pkey', columns: ['id'] },
    uniques: [],
    foreignKeys: [
      {
        name: 'users_org_id_orgs_id_fk',
        columns: ['org_id'],
        refSchema: 'public',
        refTable: 'orgs',
        refColumns: ['id'],
        onDelete: 'cascade',
        onUpdate: 'no action',
      },
    ],
    indexes: [
      idx('users_email_lower_idx', 'lower("email")', { unique: true }),
      idx('users_org_id_idx', 'org_id', { where: '"users"."role" <> \'gone\'' }),
    ],
    checks: [{ name: 'users_role_check', expression: `"users"."role" in ('member', 'admin')` }],
    rls: false,
    policies: [],
  };
}

function catalogUsers(): ActualTable {
  const actualIdx = (i: IndexSpec, more: Partial<ActualIndex> = {}): ActualIndex => ({
    ...i,
    valid: true,
    primary: false,
    nullsNotDistinct: false,
    ...more,
  });
  return {
    schema: 'public',
    name: 'users',
    columns: [
      { name: 'id', type: { name: 'uuid' }, notNull: true, default: 'gen_random_uuid()' },
      { name: 'org_id', type: { name: 'uuid' }, notNull: true },
      { name: 'email', type: { name: 'character varying(255)' }, notNull: true },
      { name: 'role', type: { name: 'character varying(50)' }, notNull: true, default: `'member'::character varying` },
      { name: 'status', type: { name: 'state', schema: 'public' }, notNull: true, default: `'active'::state` },
    ],
    primaryKey: { name: 'users_pkey', columns: ['id'] },
    uniques: [],
    foreignKeys: [
      {
        name: 'users_org_id_orgs_id_fk',
        columns: ['org_id'],
        refSchema: 'public',
        refTable: 'orgs',
        refColumns: ['id'],
        onDelete: 'cascade',
        onUpdate: 'no action',
      },
    ],
    indexes: [
      actualIdx(idx('users_pkey', 'id', { unique: true }), { primary: true, constraint: 'users_pkey' }),
      actualIdx(idx('users_email_lower_idx', 'lower((email)::text)', { unique: true })),
      actualIdx(idx('users_org_id_idx', 'org_id', { where: `((role)::text <> 'gone'::text)` })),
    ],
    checks: [
      {
        name: 'users_role_check',
        expression: `((role)::text = ANY ((ARRAY['member'::character varying, 'admin'::character varying])::text[]))`,
      },
    ],
    rls: false,
    policies: [],
    partition: false,
    notValidated: [],
  };
}

const expected = (t: TableSpec = expectedUsers()): SchemaSpec => ({
  schemas: ['public'],
  tables: [t],
  enums: [{ schema: 'public', name: 'state', values: ['active', 'paused', 'error'] }],
  sequences: [],
  views: [],
});
const actual = (t: ActualTable = catalogUsers(), values = ['active', 'paused', 'error']): ActualSchema => ({
  schemas: ['public'],
  tables: [t],
  enums: [{ schema: 'public', name: 'state', values }],
  sequences: [],
  views: [],
  policies: [],
});

function diff(change: (t: ActualTable) => void, values?: string[]) {
  const t = catalogUsers();
  change(t);
  return compareSchema(expected(), actual(t, values)).map((f) => [f.severity, f.code, f.message]);
}

describe('compareSchema', () => {
  it('finds nothing when the catalog says the same in its own words', () => {
    expect(compareSchema(expected(), actual())).toEqual([]);
  });

  it('names each kind of difference with its own code', () => {
    expect(diff((t) => t.columns.splice(2, 1))).toEqual([
      ['error', 'schema.column_missing', 'column users.email is missing (expected character varying(255) NOT NULL)'],
    ]);
    expect(diff((t) => (t.columns[2]!.type = { name: 'text' }))).toEqual([
      ['error', 'schema.column_type', 'column users.email is text, expected character varying(255)'],
    ]);
    expect(diff((t) => (t.columns[2]!.notNull = false))).toEqual([
      ['error', 'schema.column_nullability', 'column users.email allows NULL, expected NOT NULL'],
    ]);
    expect(diff((t) => (t.columns[3]!.default = `'viewer'::character varying`))).toEqual([
      [
        'error',
        'schema.column_default',
        `column users.role has default 'viewer'::character varying, expected 'member'`,
      ],
    ]);
    expect(diff((t) => delete t.columns[3]!.default)).toEqual([
      ['error', 'schema.column_default', `column users.role has no default, expected 'member'`],
    ]);
    expect(diff((t) => t.indexes.splice(2, 1))).toEqual([
      [
        'error',
        'schema.index_missing',
        `index users_org_id_idx on users is missing (expected btree (org_id) where "users"."role" <> 'gone')`,
      ],
    ]);
    expect(diff((t) => (t.indexes[1]!.valid = false))).toEqual([
      [
        'error',
        'schema.index_invalid',
        'index users_email_lower_idx on users is INVALID: a CREATE INDEX ' +
          'CONCURRENTLY failed and left it unused by queries (duplicate values?)',
      ],
    ]);
    expect(diff((t) => (t.indexes[1]!.unique = false))).toEqual([
      ['error', 'schema.index_definition', 'index users_email_lower_idx on users: not unique, expected unique'],
    ]);
    expect(diff((t) => delete t.indexes[2]!.where)).toEqual([
      [
        'error',
        'schema.index_definition',
        `index users_org_id_idx on users: no where clause, expected where "users"."role" <> 'gone'`,
      ],
    ]);
    expect(diff((t) => (t.foreignKeys = []))).toEqual([
      [
        'error',
        'schema.fk_missing',
        'foreign key users_org_id_orgs_id_fk on users is missing ' +
          '(expected (org_id) references orgs(id) on delete cascade)',
      ],
    ]);
    expect(diff((t) => (t.foreignKeys[0]!.onDelete = 'set null'))).toEqual([
      [
        'error',
        'schema.fk_definition',
        'foreign key users_org_id_orgs_id_fk on users: on delete set null, expected cascade',
      ],
    ]);
    expect(
      diff(
        (t) => (t.checks[0]!.expression = `((role)::text = ANY ((ARRAY['member'::character varying])::text[]))`),
      )[0]!.slice(0, 2),
    ).toEqual(['error', 'schema.check_definition']);
    expect(diff((t) => delete t.primaryKey)).toEqual([
      ['error', 'schema.pk_missing', 'primary key of users is missing (expected (id))'],
    ]);
    expect(diff(() => {}, ['active', 'error'])).toEqual([
      [
        'error',
        'schema.enum_values',
        `enum state has ('active', 'error'), expected ('active', 'paused', 'error'): missing ('paused')`,
      ],
    ]);
    expect(diff(() => {}, ['paused', 'active', 'error'])).toEqual([
      [
        'error',
        'schema.enum_values',
        `enum state has ('paused', 'active', 'error'), expected ('active', 'paused', 'error'): values in another order`,
      ],
    ]);
    expect(compareSchema(expected(), { ...actual(), tables: [] }).map((f) => f.code)).toEqual(['schema.table_missing']);
  });

  it('reports what a person added as warnings, never errors', () => {
    expect(
      diff(
        (t) => {
          t.columns.push({ name: 'nickname', type: { name: 'text' }, notNull: false });
          t.indexes.push({
            ...idx('users_nick_idx', 'nickname'),
            valid: true,
            primary: false,
            nullsNotDistinct: false,
          });
          t.checks.push({ name: 'users_nick_check', expression: 'length(nickname) < 40' });
        },
        ['active', 'paused', 'error', 'archived'],
      ),
    ).toEqual([
      ['warning', 'schema.extra_column', 'column users.nickname (text) is not in the snapshot: added by hand?'],
      [
        'warning',
        'schema.extra_constraint',
        'constraint users_nick_check on users (check (length(nickname) < 40)) is not in the snapshot: added by hand?',
      ],
      [
        'warning',
        'schema.extra_index',
        'index users_nick_idx on users (btree (nickname)) is not in the snapshot: added by hand?',
      ],
      [
        'warning',
        'schema.enum_extra_value',
        `enum state has ('active', 'paused', 'error', 'archived'): ('archived') added by hand?`,
      ],
    ]);
    const extraTable = {
      ...catalogUsers(),
      name: 'notes',
      columns: [{ name: 'id', type: { name: 'integer' }, notNull: true }],
      indexes: [],
      foreignKeys: [],
      checks: [],
      primaryKey: undefined,
    };
    const withTable = compareSchema(expected(), { ...actual(), tables: [catalogUsers(), extraTable] });
    expect(withTable.map((f) => [f.severity, f.code, f.message])).toEqual([
      ['warning', 'schema.extra_table', 'table notes (1 column) is not in the snapshot: added by hand?'],
    ]);
  });

  it('warns about a NOT NULL column added by hand without a default, since the app cannot insert', () => {
    const [f] = compareSchema(
      expected(),
      actual({
        ...catalogUsers(),
        columns: [...catalogUsers().columns, { name: 'tenant', type: { name: 'text' }, notNull: true }],
      }),
    );
    expect(f).toMatchObject({
      severity: 'warning',
      code: 'schema.extra_column',
      hint: expect.stringContaining('ALTER TABLE users ALTER COLUMN tenant DROP NOT NULL'),
    });
  });

  it('sees a renamed index or foreign key as a rename, not a loss', () => {
    expect(diff((t) => (t.indexes[2]!.name = 'users_org_idx'))).toEqual([
      ['warning', 'schema.renamed', 'index users_org_id_idx on users exists as users_org_idx'],
    ]);
    expect(diff((t) => (t.foreignKeys[0]!.name = 'users_org_fkey'))).toEqual([
      ['warning', 'schema.renamed', 'foreign key users_org_id_orgs_id_fk on users exists as users_org_fkey'],
    ]);
  });

  it('describes and diffs index definitions', () => {
    const e = idx('i', 'lower("email")', { unique: true, where: '"t"."a" is null' });
    expect(describeIndex(e)).toBe('unique btree (lower("email")) where "t"."a" is null');
    expect(indexDiff(e, { ...e, columns: [{ ...e.columns[0]!, asc: false, nullsFirst: true }] })).toEqual([
      'columns (lower("email") DESC), expected (lower("email"))',
    ]);
    expect(indexDiff(e, { ...e, method: 'hash', with: ['fillfactor=70'] })).toEqual([
      'method hash, expected btree',
      'with (fillfactor=70), expected ()',
    ]);
  });
});

describe('schema hints', () => {
  const missing = {
    area: 'schema' as const,
    severity: 'error' as const,
    code: 'schema.column_missing',
    message: 'column users.email is missing',
    hint: null,
    fix: 'ALTER TABLE users ADD COLUMN email text;',
  };
  it('points at the upgrade while migrations are pending, at the repair SQL once none are', () => {
    expect(assignSchemaHints([missing], 2)[0]!.hint).toBe(
      'run: npx zx upgrade.ts --dry-run (2 pending migrations change the schema)',
    );
    expect(assignSchemaHints([missing], 0)[0]!.hint).toBe(
      'the migrations that made it are recorded, so it was changed by hand; ' +
        'repair it in psql: ALTER TABLE users ADD COLUMN email text;',
    );
    expect(
      assignSchemaHints([missing], 1, new Set(['schema.column_missing column users.email is missing']))[0]!.hint,
    ).toMatch(/^the migrations that made it are recorded/);
    expect(assignSchemaHints([missing], undefined)[0]!.hint).toBe(
      'run in psql: ALTER TABLE users ADD COLUMN email text;',
    );
    expect(assignSchemaHints([missing], 0)[0]).not.toHaveProperty('fix');
  });
});
