// Names as PostgreSQL stores them: cut to 63 bytes at a character boundary, and the names it
// chooses itself shortened as makeObjectName() does.
import { describe, expect, it } from 'vitest';
import { normaliseSnapshot } from '../../verify/snapshot.ts';
import { clipBytes, pgName, pgObjectName } from '../../verify/pgName.ts';

describe('pgName', () => {
  it('keeps a name of 63 bytes or fewer', () => {
    expect(pgName('a'.repeat(63))).toBe('a'.repeat(63));
    expect(pgName('users_email_unique')).toBe('users_email_unique');
  });

  it('cuts a longer one to 63 bytes', () => {
    expect(pgName('organization_membership_invitations_invited_by_user_id_users_id_fk')).toBe(
      'organization_membership_invitations_invited_by_user_id_users_id',
    );
  });

  it('never cuts a character in two (pg_mbcliplen)', () => {
    const name = `${'a'.repeat(62)}ü_tail`; // ü is two bytes, at bytes 63-64
    expect(pgName(name)).toBe('a'.repeat(62));
    expect(Buffer.byteLength(pgName(`${'a'.repeat(61)}ü_tail`))).toBe(63);
    expect(clipBytes('日本語', 7)).toBe('日本');
  });

  it('shortens the longer part of a name PostgreSQL chooses, keeping the label', () => {
    const table = 'workspace_notification_delivery_preferences_by_channel_items';
    expect(pgObjectName(table, null, 'pkey')).toBe('workspace_notification_delivery_preferences_by_channel_ite_pkey');
    expect(pgObjectName('users', null, 'pkey')).toBe('users_pkey');
    expect(pgObjectName('a'.repeat(40), 'b'.repeat(40), 'key')).toBe(`${'a'.repeat(29)}_${'b'.repeat(29)}_key`);
  });
});

describe('snapshot names compare as stored', () => {
  it('truncates constraint, index and primary key names of a snapshot', () => {
    const long = 'x'.repeat(70);
    const spec = normaliseSnapshot({
      tables: {
        [`public.${long}`]: {
          name: long,
          columns: { id: { name: 'id', type: 'serial', primaryKey: true } },
          indexes: { [`${long}_idx`]: { name: `${long}_idx`, columns: [{ expression: 'id' }] } },
          foreignKeys: { f: { name: `${long}_fk`, tableTo: long, columnsFrom: ['id'], columnsTo: ['id'] } },
        },
      },
    });
    const t = spec.tables[0]!;
    expect(t.name).toBe('x'.repeat(63));
    expect(t.primaryKey!.name).toBe(`${'x'.repeat(58)}_pkey`);
    expect(t.indexes[0]!.name).toBe('x'.repeat(63));
    expect(t.foreignKeys[0]!.name).toBe('x'.repeat(63));
    expect(t.foreignKeys[0]!.refTable).toBe('x'.repeat(63));
  });
});
