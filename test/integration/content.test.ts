// Invariants of Pulse's content: the legacy files, the comprehensive file and drizzle's
// 0000 agree; every legacy file is idempotent and non-destructive; every release can be
// built the way installs got there.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { RELEASES, releaseIndex, type Release } from '../../drizzle/seed.ts';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { readLegacyManifest } from '../../lib/legacy/manifest.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import {
  applyLegacyFile,
  type BuildOptions,
  buildRelease,
  DRIZZLE_DIR,
  FIXTURE_RELEASES,
  LEGACY_DIR,
  legacyFiles,
  type FixtureRelease,
  releaseDatabase,
} from '../support/releases.ts';
import { flattenFlags, legacyTransforms, lostOrChanged, rowSnapshot } from '../support/rows.ts';

async function withDatabase<T>(
  fn: (client: pg.Client, db: TestDatabase) => Promise<T>,
  release?: { at: FixtureRelease } & BuildOptions,
): Promise<T> {
  // A release's database is a copy of its template (what buildRelease builds).
  const db = release ? await releaseDatabase(release.at, release) : await freshDatabase();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  client.on('notice', () => {});
  try {
    return await fn(client, db);
  } finally {
    await client.end();
    await db.drop();
  }
}

const LEGACY_RELEASES = RELEASES.filter((r) => releaseIndex(r) <= releaseIndex('v1.4'));

describe('Pulse content', () => {
  it('comprehensive-upgrade.sql, the five files in order and drizzle 0000 build the same schema', async () => {
    const manifest = readLegacyManifest(LEGACY_DIR);
    const comprehensive = await withDatabase(async (c) => {
      await applyLegacyFile(c, manifest.comprehensive!);
      return schemaFingerprint(c);
    });
    const ordered = await withDatabase(async (c) => {
      for (const f of manifest.files) await applyLegacyFile(c, f);
      return schemaFingerprint(c);
    });
    const drizzle0000 = await withDatabase(async (c) => {
      for (const s of readMigrations(DRIZZLE_DIR)[0]!.statements) await c.query(s);
      return schemaFingerprint(c);
    });
    expect(comprehensive.length).toBeGreaterThan(100);
    expect(ordered).toEqual(comprehensive);
    expect(drizzle0000).toEqual(comprehensive);
  });

  it.each(legacyFiles().map((f) => [f.file, f] as const))(
    '%s applied twice equals applied once',
    async (_name, file) => {
      await withDatabase(async (c) => {
        for (const f of legacyFiles()) {
          if (f === file) break;
          await applyLegacyFile(c, f);
        }
        await applyLegacyFile(c, file);
        const once = { fp: await schemaFingerprint(c), rows: await rowSnapshot(c) };
        await applyLegacyFile(c, file);
        expect(await schemaFingerprint(c)).toEqual(once.fp);
        expect(lostOrChanged(once.rows, await rowSnapshot(c))).toEqual([]);
        expect(await rowSnapshot(c)).toEqual(once.rows);
      });
    },
  );

  // Every release past a file, with data: the file changes neither the schema nor any row.
  it.each(RELEASES.filter((r) => r !== 'v1.0').map((r) => [r]))(
    'every earlier legacy file changes nothing on a %s install with data',
    async (release) => {
      await withDatabase(
        async (c) => {
          const before = { fp: await schemaFingerprint(c), rows: await rowSnapshot(c) };
          const earlier = legacyFiles().filter((f) => releaseIndex(f.release as Release) < releaseIndex(release));
          for (const f of [...earlier, readLegacyManifest(LEGACY_DIR).comprehensive!]) {
            if (f.file === 'comprehensive-upgrade.sql' && releaseIndex(release) < releaseIndex('v1.4')) continue;
            await applyLegacyFile(c, f);
            expect(await schemaFingerprint(c), `${f.file} on ${release}`).toEqual(before.fp);
            expect(await rowSnapshot(c), `${f.file} on ${release}`).toEqual(before.rows);
          }
        },
        { at: release },
      );
    },
  );

  it.each(['empty', ...LEGACY_RELEASES.filter((r) => r !== 'v1.4')].map((r) => [r as FixtureRelease]))(
    'the files in order bring a %s install with data to the v1.4 schema, keeping every row',
    async (release) => {
      const target = await withDatabase((c) => schemaFingerprint(c), { at: 'v1.4', data: false });
      await withDatabase(
        async (c) => {
          const before = flattenFlags(await rowSnapshot(c));
          for (const f of legacyFiles()) await applyLegacyFile(c, f);
          expect(await schemaFingerprint(c)).toEqual(target);
          const after = flattenFlags(await rowSnapshot(c));
          expect(lostOrChanged(before, after, legacyTransforms)).toEqual([]);
          if (release !== 'empty') {
            const users = after.get('users')!;
            expect(users.size).toBe(before.get('users')!.size);
            for (const u of users.values()) expect(u.email).toBe(String(u.email).toLowerCase());
            // v1.2 gave every existing user the system role their users.role named.
            expect(after.get('user_roles')!.size).toBe(users.size);
            for (const o of after.get('organizations')!.values()) {
              expect(o.features_enabled).toMatchObject({
                configurations: expect.any(Boolean),
                awsIntegrations: expect.any(Boolean),
                discovery: true,
              });
            }
          }
        },
        { at: release },
      );
    },
  );

  it('the email fix stops on case-duplicates, naming both and the organization, and changes nothing', async () => {
    await withDatabase(
      async (c) => {
        const org = (await c.query<{ id: string }>(`select id from organizations where slug = 'org-1'`)).rows[0]!.id;
        await c.query(
          `insert into users (organization_id, email, password_hash) ` +
            `values ($1, 'Alice@x.example', 'h1'), ($1, 'alice@x.example', 'h2')`,
          [org],
        );
        const before = await c.query('select * from users order by id');
        const fp = await schemaFingerprint(c);
        const file = legacyFiles().find((f) => f.file === 'email-case-insensitive-fix.sql')!;
        const err = await applyLegacyFile(c, file).then(
          () => undefined,
          (e: unknown) => e as pg.DatabaseError,
        );
        expect(err?.message).toBe(
          'users whose emails differ only by case: Alice@x.example ' +
            '(organization org-1) and alice@x.example (organization org-1)',
        );
        expect(err?.code).toBe('23505');
        expect(err?.hint).toContain('decide which account of each pair survives');
        expect((await c.query('select * from users order by id')).rows).toEqual(before.rows);
        expect(await schemaFingerprint(c)).toEqual(fp);
      },
      { at: 'v1.2' },
    );
  });

  it.each(FIXTURE_RELEASES.map((r) => [r]))('a %s fixture builds, with the schema of that release', async (release) => {
    await withDatabase(async (c) => {
      await buildRelease(c, release);
      const fp = await schemaFingerprint(c);
      await expect(`${fp.join('\n')}\n`).toMatchFileSnapshot(`../fixtures/fingerprints/${release}.txt`);
      if (release !== 'empty') expect((await c.query('select count(*)::int as n from users')).rows[0].n).toBe(40);
    });
  });

  it('a v1.4 legacy install and a v2.0 drizzle install are indistinguishable in the catalog', async () => {
    const legacy = await withDatabase((c) => schemaFingerprint(c), { at: 'v1.4', data: false });
    const drizzle = await withDatabase((c) => schemaFingerprint(c), { at: 'v2.0', data: false });
    expect(drizzle).toEqual(legacy);
  });
});
