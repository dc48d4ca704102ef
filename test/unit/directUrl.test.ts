import { describe, expect, it } from 'vitest';
import { sameDatabase, type DatabaseIdentity } from '../../lib/directUrl.ts';

const id = (over: Partial<DatabaseIdentity> = {}): DatabaseIdentity => ({
  systemIdentifier: '7714512341290834001',
  startedAt: '2026-12-02 01:00:00.123456',
  database: 'pulse',
  databaseOid: '16384',
  ...over,
});

describe('sameDatabase', () => {
  it('is the same database whatever the URLs said', () => expect(sameDatabase(id(), id())).toBe(true));
  it('tells apart another database of one server', () =>
    expect(sameDatabase(id(), id({ database: 'postgres', databaseOid: '5' }))).toBe(false));
  it('tells apart a database dropped and created again under its name', () =>
    expect(sameDatabase(id(), id({ databaseOid: '16390' }))).toBe(false));
  it('tells apart a standby or a copy (one system identifier, another postmaster)', () =>
    expect(sameDatabase(id(), id({ startedAt: '2026-12-02 01:00:00.123457' }))).toBe(false));
  it('tells apart two clusters', () =>
    expect(sameDatabase(id(), id({ systemIdentifier: '7714512341290834002' }))).toBe(false));
  it('decides without the system identifier where a role may not read it', () => {
    expect(sameDatabase(id(), id({ systemIdentifier: null }))).toBe(true);
    expect(
      sameDatabase(
        id({ systemIdentifier: null }),
        id({ systemIdentifier: null, startedAt: '2026-12-02 02:00:00.000000' }),
      ),
    ).toBe(false);
  });
});
