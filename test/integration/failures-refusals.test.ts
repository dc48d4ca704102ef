// Catalogue cases (test/failures/hardening/refusals.ts, docs/FAILURES.md): what can be known
// before the first write is checked before it. A busy lock is a refusal, never a reason to
// fall back to the legacy files one by one; an extension the server lacks, a role whose
// transactions start read-only and a table owned by another role are refused by the plan
// (and preflight), before anything is recorded, with the package or the SQL that fixes them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import {
  backupTests,
  connectTo,
  serverInfo,
  useFreshDatabase,
  withAdminClient,
  withClientAt,
} from '../support/database.ts';
import { drizzleFolderWith } from '../support/drizzleFolders.ts';
import { asRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';

const LATER = Date.parse('2026-06-01T00:00:00.000Z');

describe('failure catalogue: refusals before the first write (locks)', () => {
  const db = useFreshDatabase();

  it('conc.lock-timeout-legacy', backupTests(), async () => {
    await asRelease(db(), 'v1.0');
    const c = await connectTo(db().url);
    const blocker = await connectTo(db().url, 'pulse-api report');
    try {
      const before = { fp: await schemaFingerprint(c), rows: await rowSnapshot(c) };
      const pid = (await blocker.query('select pg_backend_pid() as pid')).rows[0].pid;
      await blocker.query('begin');
      await blocker.query('select count(*) from users');
      const fc = failureCase('conc.lock-timeout-legacy');
      const r = await runCase(fc, { url: db().url, backups: tempDir('upkit-case-bk-'), pid });
      expectCase(r, fc, r.vars);
      // The files one by one were never tried.
      expect(r.stderr).not.toContain('applying the legacy files one by one');
      expect(await schemaFingerprint(c)).toEqual(before.fp);
      expect(await rowSnapshot(c)).toEqual(before.rows);
      expect((await c.query(`select count(*)::int as n from upkit.legacy_migrations`)).rows[0].n).toBe(0);
      expect(
        await withClientAt(db().url, (x) => x.query(`select to_regclass('drizzle.__drizzle_migrations') as t`)),
      ).toMatchObject({ rows: [{ t: null }] });
      expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'refused' }]);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([c.end(), blocker.end()]);
    }
  });
});

describe('failure catalogue: refusals before the first write (extensions)', () => {
  const db = useFreshDatabase();

  it('mig.extension-missing', backupTests(), async (ctx) => {
    // The case is a server without pgvector: one where it was built and installed cannot show it.
    const offered = await withClientAt(
      db().url,
      async (c) => (await c.query(`select 1 from pg_available_extensions where name = 'vector'`)).rowCount,
    );
    if (offered)
      ctx.skip(
        'this PostgreSQL server offers the vector extension (pgvector is installed), so it cannot show the refusal',
      );
    await asRelease(db(), 'v2.2');
    const dir = drizzleFolderWith({
      tag: '0004_embeddings',
      when: LATER,
      sql:
        'CREATE EXTENSION IF NOT EXISTS "vector";--> statement-breakpoint\n' +
        'ALTER TABLE "configurations" ADD COLUMN "embedding" vector(3);',
    });
    const c = failureCase('mig.extension-missing');
    const before = await dbState(db().url);
    const r = await runCase(c, {
      url: db().url,
      dir,
      backups: tempDir('upkit-case-bk-'),
      major: serverInfo().majorVersion,
    });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it('mig.extension-unknown-preflight', async () => {
    await asRelease(db(), 'v2.3');
    const dir = drizzleFolderWith({
      tag: '0004_fuzzy',
      when: LATER,
      sql: 'CREATE EXTENSION IF NOT EXISTS "pulse_fuzzy";',
    });
    const c = failureCase('mig.extension-unknown-preflight');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir, major: serverInfo().majorVersion });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });
});

describe('failure catalogue: refusals before the first write (roles)', () => {
  const db = useFreshDatabase();
  const migrator = `upkit_migrator_${process.pid}`;
  const owner = `upkit_app_owner_${process.pid}`;
  const password = 'migrator-pw-123';

  beforeAll(async () => {
    await withAdminClient((a) =>
      a.query(`create role ${migrator} login password '${password}'; create role ${owner} nologin`),
    );
  });
  afterAll(async () => {
    await withAdminClient((a) => a.query(`drop role if exists ${migrator}; drop role if exists ${owner}`));
  });

  const asMigrator = () => ({ user: migrator, password, host: db().host, port: db().port, database: db().database });

  it('server.read-only-default', backupTests(), async () => {
    await asRelease(db(), 'v2.2');
    await withClientAt(db().url, async (c) => {
      await c.query(`alter database ${c.escapeIdentifier(db().database)} set default_transaction_read_only = on`);
    });
    const c = failureCase('server.read-only-default');
    const before = await dbState(db().url);
    const r = await runCase(c, {
      url: db().url,
      backups: tempDir('upkit-case-bk-'),
      user: db().user,
      database: db().database,
    });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await runsOf(db().url)).toEqual([]);
  });

  it('server.read-only-default-preflight', async () => {
    await asRelease(db(), 'v2.2');
    await withClientAt(db().url, async (c) => {
      await c.query(`alter database ${c.escapeIdentifier(db().database)} owner to ${migrator}`);
      await c.query(`alter role ${migrator} set default_transaction_read_only = on`);
    });
    try {
      const c = failureCase('server.read-only-default-preflight');
      const before = await dbState(db().url);
      const r = await runCase(c, asMigrator());
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
    } finally {
      await withAdminClient((a) => a.query(`alter role ${migrator} reset default_transaction_read_only`));
    }
  });

  it('server.not-owner', backupTests(), async () => {
    await asRelease(db(), 'v2.1');
    await withClientAt(db().url, async (c) => {
      // The migrator owns the database, its schemas and every table but one, as after a handover.
      await c.query(`alter database ${c.escapeIdentifier(db().database)} owner to ${migrator}`);
      await c.query(`alter schema public owner to ${migrator}; alter schema drizzle owner to ${migrator}`);
      const { rows } = await c.query(
        `select format('%I.%I', schemaname, tablename) as t from pg_tables where schemaname in ('public', 'drizzle')`,
      );
      for (const { t } of rows) await c.query(`alter table ${t} owner to ${migrator}`);
      await c.query(
        `alter table aws_integrations owner to ${owner}; grant select, ` +
          `insert, update, delete on aws_integrations to ${migrator}`,
      );
    });
    const c = failureCase('server.not-owner');
    const before = await dbState(db().url);
    const r = await runCase(c, { ...asMigrator(), owner, backups: tempDir('upkit-case-bk-') });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await runsOf(db().url)).toEqual([]);
  });
});
