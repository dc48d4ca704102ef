// The release templates globalSetup builds: a copy holds exactly what buildRelease() builds
// (schema, rows, sequences, ownership and grants), and asRelease() refuses a database the
// test already changed, whose change the copy would lose.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { freshDatabase, type TestDatabase, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, buildRelease, type FixtureRelease, releaseDatabase } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

const DAY = 24 * 3600 * 1000;
const RANDOM_UUID = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;

/**
 * One row as text, with what differs between any two builds made equal: the seed's ids, drawn
 * by gen_random_uuid() (version 4), and timestamps the build stamped with now().
 */
function normalised(entry: [string, Record<string, unknown>]): string {
  return JSON.stringify(entry, (_key, value: unknown) => {
    if (typeof value === 'string') {
      const time = Date.parse(value);
      if (/^\d{4}-\d\d-\d\dT/.test(value) && Math.abs(time - Date.now()) < DAY) return 'built now';
      return value.replace(RANDOM_UUID, 'random uuid');
    }
    return value;
  });
}

/** Everything a test can see of a release, what differs between any two builds made equal (normalised). */
async function contents(db: TestDatabase) {
  return withClientAt(db.url, async (c: pg.Client) => {
    const rows: Record<string, unknown[]> = {};
    for (const schema of ['public', 'drizzle', 'upkit']) {
      for (const [table, byKey] of await rowSnapshot(c, schema)) {
        rows[`${schema}.${table}`] = [...byKey.entries()].map((entry) => normalised(entry)).sort();
      }
    }
    const sequences = (
      await c.query(`select schemaname || '.' || sequencename as s, last_value::text as v from pg_sequences order by 1`)
    ).rows;
    const objects = (
      await c.query(
        `select n.nspname || '.' || c.relname as o, pg_get_userbyid(c.relowner) as owner, c.relacl::text as acl
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_' order by 1`,
      )
    ).rows;
    const schemas = (
      await c.query(
        `select nspname, pg_get_userbyid(nspowner) as owner, nspacl::text as acl from pg_namespace
          where nspname !~ '^pg_' and nspname <> 'information_schema' order by 1`,
      )
    ).rows;
    return { fingerprint: await schemaFingerprint(c), rows, sequences, objects, schemas };
  });
}

describe('release templates', () => {
  const db = useFreshDatabase();

  it.each<[FixtureRelease, { data?: false }]>([
    ['v1.0', {}],
    ['v1.2', {}],
    ['v1.4', { data: false }],
    ['v2.2', {}],
    ['v2.3', {}],
    ['v2.3', { data: false }],
  ])('a copy of %s %o holds what buildRelease builds', async (release, options) => {
    await withClientAt(db().url, (c) => buildRelease(c, release, options));
    const built = await contents(db());
    expect(built.fingerprint.length).toBeGreaterThan(0);
    const copy = await releaseDatabase(release, options);
    try {
      expect(await contents(copy)).toEqual(built);
    } finally {
      await copy.drop();
    }
  });

  it('asRelease keeps the name and URL and holds the release', async () => {
    const { name, url } = db();
    await asRelease(db(), 'v2.2');
    expect([db().name, db().url]).toEqual([name, url]);
    const other = await freshDatabase();
    try {
      await withClientAt(other.url, (c) => buildRelease(c, 'v2.2'));
      expect(await contents(db())).toEqual(await contents(other));
    } finally {
      await other.drop();
    }
  });

  it(
    'asRelease refuses a database the test already ' + 'changed or holds a session on, and leaves it as it was',
    async () => {
      await withClientAt(db().url, (c) => c.query('create table hand_made (id int)'));
      await expect(asRelease(db(), 'v2.3')).rejects.toThrow(
        /no longer as freshDatabase\(\) made it \(relation public\.hand_made\)/,
      );
      await withClientAt(db().url, async (c) => {
        await c.query('drop table hand_made');
        await c.query(`alter database ${c.escapeIdentifier(db().name)} set work_mem = '8MB'`);
      });
      await expect(asRelease(db(), 'v2.3')).rejects.toThrow(/database-level settings/);
      await withClientAt(db().url, async (c) => {
        await c.query(`alter database ${c.escapeIdentifier(db().name)} reset work_mem`);
        await expect(asRelease(db(), 'v2.3')).rejects.toThrow(/1 open session/);
        expect((await c.query(`select to_regclass('public.users') as t`)).rows).toEqual([{ t: null }]);
      });
    },
  );
});
