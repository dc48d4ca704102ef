import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJournal } from '../../lib/drizzle/journal.ts';
import {
  normaliseSnapshot,
  pickEntry,
  readSnapshot,
  snapshotPath,
  type DrizzleSnapshot,
} from '../../verify/snapshot.ts';
import {
  builtinType,
  catalogType,
  sameDefaultText,
  sameType,
  snapshotType,
  stripTrailingCasts,
} from '../../verify/sqlText.ts';

const DRIZZLE = path.resolve(import.meta.dirname, '../../drizzle');

describe('snapshot types in the catalog spelling', () => {
  it.each([
    ['varchar(255)', 'character varying(255)'],
    ['varchar', 'character varying'],
    ['char(2)', 'character(2)'],
    ['char', 'character(1)'],
    ['timestamp with time zone', 'timestamp with time zone'],
    ['timestamp (3) with time zone', 'timestamp(3) with time zone'],
    ['timestamp', 'timestamp without time zone'],
    ['timestamptz', 'timestamp with time zone'],
    ['time(6)', 'time(6) without time zone'],
    ['numeric(10, 2)', 'numeric(10,2)'],
    ['decimal(12)', 'numeric(12,0)'],
    ['int', 'integer'],
    ['serial', 'integer'],
    ['bigserial', 'bigint'],
    ['int2', 'smallint'],
    ['float8', 'double precision'],
    ['real', 'real'],
    ['bool', 'boolean'],
    ['jsonb', 'jsonb'],
    ['uuid', 'uuid'],
    ['interval', 'interval'],
  ])('%s is %s', (given, expected) => {
    expect(builtinType(given)).toBe(expected);
  });

  it('keeps arrays as one [] (PostgreSQL does not keep dimensions) and user types with their schema', () => {
    expect(snapshotType('text[]')).toEqual({ name: 'text[]' });
    expect(snapshotType('integer[][]')).toEqual({ name: 'integer[]' });
    expect(snapshotType('varchar(20)[]')).toEqual({ name: 'character varying(20)[]' });
    expect(snapshotType('integration_status', 'public')).toEqual({ name: 'integration_status', schema: 'public' });
    expect(snapshotType('"audit"."Level"')).toEqual({ name: 'Level', schema: 'audit' });
    expect(snapshotType('citext')).toEqual({ name: 'citext' });
  });

  it('matches catalog types, qualified or not, and tells different ones apart', () => {
    expect(sameType(snapshotType('integration_status', 'public'), catalogType('integration_status', 'public'))).toBe(
      true,
    );
    expect(sameType(snapshotType('Level', 'audit'), catalogType('audit."Level"', 'audit'))).toBe(true);
    expect(sameType(snapshotType('level', 'audit'), catalogType('level', 'public'))).toBe(false);
    expect(sameType(snapshotType('citext'), catalogType('citext', 'public'))).toBe(true);
    expect(sameType(snapshotType('varchar(255)'), catalogType('character varying(255)', 'pg_catalog'))).toBe(true);
    expect(sameType(snapshotType('varchar(255)'), catalogType('character varying(100)', 'pg_catalog'))).toBe(false);
    expect(sameType(snapshotType('integration_status', 'public'), catalogType('integration_status[]', 'public'))).toBe(
      false,
    );
  });
});

describe('defaults compared as text', () => {
  it('drops the casts the catalog adds at the end', () => {
    expect(stripTrailingCasts(`'member'::character varying`)).toBe(`'member'`);
    expect(stripTrailingCasts(`'active'::"public"."integration_status"`)).toBe(`'active'`);
    expect(stripTrailingCasts(`'{}'::jsonb`)).toBe(`'{}'`);
    expect(stripTrailingCasts(`('2024-01-01'::text)::timestamp with time zone`)).toBe(`'2024-01-01'`);
    expect(stripTrailingCasts(`'{a,b}'::text[]`)).toBe(`'{a,b}'`);
    expect(stripTrailingCasts(`now()`)).toBe('now()');
    expect(stripTrailingCasts(`'a::b'`)).toBe(`'a::b'`);
  });

  it('treats a snapshot default and the catalog default as the same when only the casts differ', () => {
    expect(sameDefaultText(`'member'`, `'member'::character varying`)).toBe(true);
    expect(sameDefaultText(`'active'`, `'active'::integration_status`)).toBe(true);
    expect(sameDefaultText(`'{}'::jsonb`, `'{}'::jsonb`)).toBe(true);
    expect(sameDefaultText('now()', 'now()')).toBe(true);
    expect(sameDefaultText('true', 'true')).toBe(true);
    expect(sameDefaultText(`'member'`, `'viewer'::character varying`)).toBe(false);
  });
});

describe('normaliseSnapshot', () => {
  it("reads Pulse's 0003 snapshot: tables, keys, indexes, enums", () => {
    const entries = readJournal(DRIZZLE);
    const spec = readSnapshot(DRIZZLE, entries.at(-1)!);
    expect(spec.schemas).toEqual(['public']);
    expect(spec.tables).toHaveLength(13);
    expect(spec.enums).toEqual([
      { schema: 'public', name: 'integration_status', values: ['active', 'paused', 'error'] },
    ]);
    const users = spec.tables.find((t) => t.name === 'users')!;
    expect(users.primaryKey).toEqual({ name: 'users_pkey', columns: ['id'] });
    expect(users.columns.find((c) => c.name === 'email')).toEqual({
      name: 'email',
      type: { name: 'character varying(255)' },
      notNull: true,
    });
    expect(users.columns.find((c) => c.name === 'role')).toEqual({
      name: 'role',
      type: { name: 'character varying(50)' },
      notNull: true,
      default: `'member'`,
    });
    expect(users.columns.find((c) => c.name === 'is_active')!.default).toBe('true');
    expect(users.indexes.find((i) => i.name === 'users_email_lower_idx')).toEqual({
      name: 'users_email_lower_idx',
      unique: true,
      method: 'btree',
      columns: [{ expression: 'lower("email")', isExpression: true, asc: true, nullsFirst: false }],
      with: [],
    });
    const roles = spec.tables.find((t) => t.name === 'roles')!;
    expect(roles.indexes.find((i) => i.name === 'roles_system_name_idx')!.where).toBe(
      '"roles"."organization_id" is null',
    );
    const audit = spec.tables.find((t) => t.name === 'audit_logs')!;
    expect(audit.columns[0]).toMatchObject({
      name: 'id',
      type: { name: 'bigint' },
      notNull: true,
      identity: { kind: 'always', start: '1', increment: '1' },
    });
    expect(audit.foreignKeys.find((f) => f.name === 'audit_logs_actor_id_users_id_fk')).toEqual({
      name: 'audit_logs_actor_id_users_id_fk',
      columns: ['actor_id'],
      refSchema: 'public',
      refTable: 'users',
      refColumns: ['id'],
      onDelete: 'set null',
      onUpdate: 'no action',
    });
    const rp = spec.tables.find((t) => t.name === 'role_permissions')!;
    expect(rp.primaryKey).toEqual({ name: 'role_permissions_pkey', columns: ['role_id', 'permission_id'] });
    expect(spec.tables.find((t) => t.name === 'organizations')!.uniques).toEqual([
      { name: 'organizations_slug_unique', columns: ['slug'], nullsNotDistinct: false },
    ]);
    expect(spec.tables.find((t) => t.name === 'discovery_code_generations')!.checks[0]!.name).toBe(
      'discovery_code_generations_format_check',
    );
  });

  it('reads serials, column-level uniques, descending index columns, other schemas and storage parameters', () => {
    const snap: DrizzleSnapshot = {
      version: '7',
      dialect: 'postgresql',
      tables: {
        'billing.invoices': {
          name: 'invoices',
          schema: 'billing',
          columns: {
            id: { name: 'id', type: 'serial', primaryKey: true, notNull: true },
            number: {
              name: 'number',
              type: 'text',
              notNull: false,
              isUnique: true,
              uniqueName: 'invoices_number_key',
              nullsNotDistinct: true,
            },
            status: { name: 'status', type: 'state', typeSchema: 'billing', notNull: true, default: "'open'" },
            total: { name: 'total', type: 'numeric(12, 2)', notNull: true, default: 0 },
          },
          indexes: {
            invoices_total_idx: {
              name: 'invoices_total_idx',
              columns: [{ expression: 'total', isExpression: false, asc: false, nulls: 'last' }],
              isUnique: false,
              method: 'btree',
              with: { fillfactor: 70 },
            },
          },
          foreignKeys: {},
          compositePrimaryKeys: {},
          uniqueConstraints: {},
          checkConstraints: {},
          isRLSEnabled: true,
        },
      },
      enums: { 'billing.state': { name: 'state', schema: 'billing', values: ['open', 'paid'] } },
      schemas: { billing: 'billing' },
    };
    const spec = normaliseSnapshot(snap);
    expect(spec.schemas).toEqual(['billing', 'public']);
    const t = spec.tables[0]!;
    expect(t).toMatchObject({
      schema: 'billing',
      name: 'invoices',
      rls: true,
      primaryKey: { name: 'invoices_pkey', columns: ['id'] },
    });
    expect(t.columns[0]).toEqual({ name: 'id', type: { name: 'integer' }, notNull: true, serial: true });
    expect(t.columns[2]!.type).toEqual({ name: 'state', schema: 'billing' });
    expect(t.columns[3]).toEqual({ name: 'total', type: { name: 'numeric(12,2)' }, notNull: true, default: '0' });
    expect(t.uniques).toEqual([{ name: 'invoices_number_key', columns: ['number'], nullsNotDistinct: true }]);
    expect(t.indexes[0]).toEqual({
      name: 'invoices_total_idx',
      unique: false,
      method: 'btree',
      columns: [{ expression: 'total', isExpression: false, asc: false, nullsFirst: false }],
      with: ['fillfactor=70'],
    });
  });

  it('finds the snapshot of the last journal entry, or the one asked for, and names what is missing', () => {
    const entries = readJournal(DRIZZLE);
    expect(pickEntry(entries, undefined, DRIZZLE).tag).toBe('0003_integration_status_enum');
    expect(pickEntry(entries, 0, DRIZZLE).tag).toBe('0000_init');
    expect(pickEntry(entries, '0001_api_keys', DRIZZLE).idx).toBe(1);
    expect(snapshotPath(DRIZZLE, entries[2]!)).toBe(path.join(DRIZZLE, 'meta', '0002_snapshot.json'));
    expect(() => pickEntry(entries, 9, DRIZZLE)).toThrow(/has no entry 9 \(it has 0000_init, 0001_api_keys/);
    const dir = mkdtempSync(path.join(tmpdir(), 'upkit-snap-'));
    mkdirSync(path.join(dir, 'meta'));
    writeFileSync(path.join(dir, 'meta', '0000_snapshot.json'), JSON.stringify({ version: '5', dialect: 'pg' }));
    expect(() => readSnapshot(dir, { idx: 0, tag: '0000_x', when: 1, breakpoints: true })).toThrow(/is a pg snapshot/);
    expect(() => readSnapshot(dir, { idx: 1, tag: '0001_y', when: 2, breakpoints: true })).toThrow(
      /the snapshot of journal entry 0001_y is missing/,
    );
  });
});
