// The expected schema is what the migrations build: an app whose last snapshot disagrees with
// its SQL (an enum value added BEFORE another, a hand-written NOT NULL DEFAULT), with names
// over PostgreSQL's 63 bytes, built by drizzle-orm's own migrate(), verifies clean; the
// shadow database is dropped, cached, and replaced by the snapshot (said so) where it cannot be made.
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { interruptCase } from '../failures/interrupt.ts';
import { expectVerifyCase } from '../failures/verifyCase.ts';
import { backupArgs, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { ROOT, runUpkit } from '../support/cli.ts';

const FIXTURE = path.join(ROOT, 'test/fixtures/drizzle-shadow');

/** A copy of the fixture folder, its journal cut after entry `last`, plus extra migrations. */
function folder(last = 1, extras: Array<{ tag: string; sql: string }> = []): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-shadow-app-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<Record<string, unknown>> };
  journal.entries = journal.entries.slice(0, last + 1);
  for (const e of extras) {
    const idx = journal.entries.length;
    journal.entries.push({ idx, version: '7', when: 1764633800000 + idx, tag: e.tag, breakpoints: true });
    writeFileSync(path.join(dir, `${e.tag}.sql`), e.sql);
    cpSync(
      path.join(dir, 'meta', `${String(last).padStart(4, '0')}_snapshot.json`),
      path.join(dir, 'meta', `${String(idx).padStart(4, '0')}_snapshot.json`),
    );
  }
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  return dir;
}

async function drizzleMigrate(url: string, dir: string): Promise<void> {
  await withClientAt(url, (c) => migrate(drizzle(c), { migrationsFolder: dir }));
}

/** The scratch databases of `live` (their names start with it; other tests' are not counted). */
async function scratchOf(live: string): Promise<string[]> {
  return withAdminClient(async (a) =>
    (
      await a.query<{ datname: string }>(
        `select datname from pg_database where starts_with(datname, $1) and datname like '%\\_shadow\\_%' order by 1`,
        [live],
      )
    ).rows.map((r) => r.datname),
  );
}

const cacheDir = () => mkdtempSync(path.join(tmpdir(), 'upkit-shadow-cache-'));

/** The shadow session's backend, once it runs `pattern` (its replay is under way). */
async function shadowSession(live: string, pattern: string): Promise<number | undefined> {
  return withAdminClient(
    async (a) =>
      (
        await a.query<{ pid: number }>(
          `select pid from pg_stat_activity where application_name = 'upkit shadow' and ` +
            `starts_with(datname, $2) and datname like '%\\_shadow\\_%' and query like $1`,
          [`%${pattern}%`, live],
        )
      ).rows[0]?.pid,
  );
}

const SLOW = { tag: '0002_slow', sql: 'SELECT pg_sleep(60);\n' };

describe('failure catalogue: the expected schema is what the migrations build', () => {
  const db = useFreshDatabase();
  const role = `upkit_shadow_ro_${process.pid}`;
  const maker = `upkit_shadow_maker_${process.pid}`;
  const password = 'shadow-ro-pw-123';

  beforeAll(async () => {
    await withAdminClient(async (a) => {
      await a.query(`create role ${role} login password '${password}' nocreatedb`);
      await a.query(`create role ${maker} login password '${password}' createdb`);
    });
  });
  afterAll(async () => {
    await withAdminClient(async (a) => {
      for (const r of [role, maker]) {
        await a.query(`drop owned by ${r}`).catch(() => {});
        await a.query(`drop role if exists ${r}`);
      }
    });
  });
  const urlAs = (user: string) => `postgresql://${user}:${password}@${db().host}:${db().port}/${db().database}`;
  async function grantReads(user: string): Promise<void> {
    await withClientAt(db().url, async (c) => {
      await c.query(`grant connect on database ${c.escapeIdentifier(db().database)} to ${user}`);
      for (const s of ['public', 'drizzle'])
        await c.query(`grant usage on schema ${s} to ${user}; grant select on all tables in schema ${s} to ${user}`);
    });
  }

  it('shadow.snapshot-disagrees', async () => {
    const dir = folder();
    await drizzleMigrate(db().url, dir);
    const cache = cacheDir();
    const before = await dbState(db().url);
    const c = failureCase('shadow.snapshot-disagrees');
    const r = await runCase(c, { url: db().url, dir, cache });
    expectVerifyCase(r, c, r.vars);
    const report = r.json<Report>();
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.findings.filter((f) => f.severity === 'warning').map((f) => f.code)).toEqual(['snapshot.disagrees']);
    expect(report.findings.find((f) => f.code === 'verify.expected_schema')?.message).toBe(
      'expected schema from the migrations: 2 replayed into a scratch ' +
        'database on this server (built now, dropped, and cached)',
    );
    expect(await scratchOf(db().database)).toEqual([]);
    const files = readdirSync(path.join(cache, 'shadow'));
    expect(files).toHaveLength(1);
    expect(statSync(path.join(cache, 'shadow', files[0]!)).mode & 0o777).toBe(0o600);
    await expectUnchanged(db().url, before);
  });

  it('names over 63 bytes are those PostgreSQL stored: nothing renamed', async () => {
    const dir = folder();
    await drizzleMigrate(db().url, dir);
    const names = await withClientAt(db().url, async (c) =>
      (
        await c.query<{ conname: string }>(
          `select conname from pg_constraint where conrelid in ('organization_membership_invitations'::regclass, ` +
            `'reservation_codes'::regclass, ` +
            `'workspace_notification_delivery_preferences_by_channel_items'::regclass) order by 1`,
        )
      ).rows.map((r) => r.conname),
    );
    // What PostgreSQL made of them: cut at 63 bytes, the multibyte one at a character boundary (62 bytes).
    expect(names).toEqual([
      'organization_membership_invitations_invited_by_user_id_users_id',
      'organization_membership_invitations_pkey',
      'reservation_codes_pkey',
      'reservation_codes_référence_réservation_unique_constraints_',
      'workspace_notification_delivery_preferences_by_channel_ite_pkey',
    ]);
    const r = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir, '--no-shadow'], {
      env: { DATABASE_URL: db().url, UPKIT_CACHE_DIR: cacheDir() },
    });
    expect(r.code, r.stderr).toBe(4); // the snapshot's enum order and NOT NULL DEFAULT, compared without a replay
    const codes = r.json<Report>().findings.map((f) => f.code);
    expect(codes).toContain('verify.expected_schema');
    expect(codes).not.toContain('schema.renamed');
    expect(codes.filter((x) => x.startsWith('schema.') && x.endsWith('_missing'))).toEqual([]);
  });

  it('shadow.no-shadow', async () => {
    const dir = folder(0);
    await drizzleMigrate(db().url, dir);
    const c = failureCase('shadow.no-shadow');
    const r = await runCase(c, { url: db().url, dir, cache: cacheDir() });
    expectVerifyCase(r, c, r.vars);
    expect(r.json<Report>().findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(await scratchOf(db().database)).toEqual([]);
  });

  it('shadow.no-createdb, then the cache built by a role that may serves it', async () => {
    const cut = folder(0);
    await drizzleMigrate(db().url, cut);
    await grantReads(role);
    const cache = cacheDir();
    const c = failureCase('shadow.no-createdb');
    const first = await runCase(c, { url: urlAs(role), dir: cut, cache, user: role });
    expectVerifyCase(first, c, first.vars);
    expect(first.json<Report>().findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(await scratchOf(db().database)).toEqual([]);

    const dir = folder();
    await drizzleMigrate(db().url, dir);

    // The full folder, whose snapshot disagrees: without a replay the snapshot's differences are errors.
    const strict = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], {
      env: { DATABASE_URL: urlAs(role), UPKIT_CACHE_DIR: cache },
    });
    expect(strict.code, strict.stderr).toBe(4);
    expect(strict.json<Report>().findings.map((f) => f.code)).toContain('schema.enum_values');

    // The migration role replays and caches it; the role that may not create a database then uses the cache.
    const built = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], {
      env: { DATABASE_URL: db().url, UPKIT_CACHE_DIR: cache },
    });
    expect(built.code, built.stderr).toBe(0);
    const cached = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], {
      env: { DATABASE_URL: urlAs(role), UPKIT_CACHE_DIR: cache },
    });
    expect(cached.code, cached.stderr).toBe(0);
    const files = readdirSync(path.join(cache, 'shadow'));
    expect(files).toHaveLength(1);
    expect(cached.json<Report>().findings.find((f) => f.code === 'verify.expected_schema')?.message).toBe(
      `expected schema from the migrations: 2 replayed into a scratch database ` +
        `on this server (cached in ${path.join(cache, 'shadow', files[0]!)})`,
    );
    expect(
      cached
        .json<Report>()
        .findings.filter((f) => f.severity === 'warning')
        .map((f) => f.code),
    ).toEqual(['snapshot.disagrees']);
  });

  it('the cache is used on the second run: no scratch database is created', async () => {
    const dir = folder();
    await drizzleMigrate(db().url, dir);
    const cache = cacheDir();
    await withAdminClient((a) => a.query(`alter role ${maker} createdb`));
    await grantReads(maker);
    const first = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], {
      env: { DATABASE_URL: urlAs(maker), UPKIT_CACHE_DIR: cache },
    });
    expect(first.code, first.stderr).toBe(0);
    // What the server shows: the same role, now refused CREATE DATABASE, still compares with the replay.
    await withAdminClient((a) => a.query(`alter role ${maker} nocreatedb`));
    const second = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], {
      env: { DATABASE_URL: urlAs(maker), UPKIT_CACHE_DIR: cache },
    });
    expect(second.code, second.stderr).toBe(0);
    expect(second.json<Report>().findings.find((f) => f.code === 'verify.expected_schema')?.message).toMatch(
      /^expected schema from the migrations: 2 replayed .*\(cached in /,
    );
    // A changed migration file is another journal: not served from the cache.
    writeFileSync(
      path.join(dir, '0001_regions.sql'),
      `${readFileSync(path.join(dir, '0001_regions.sql'), 'utf8')}\n-- reviewed\n`,
    );
    const changed = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], {
      env: { DATABASE_URL: urlAs(maker), UPKIT_CACHE_DIR: cache },
    });
    expect(changed.json<Report>().findings.find((f) => f.code === 'verify.expected_schema')?.message).toBe(
      `expected schema from the snapshot: role ${maker} may not create databases ` +
        `(no CREATEDB), so the migrations were not replayed into a scratch database`,
    );
  });

  it('shadow.replay-fails', async () => {
    const dir = folder(0, [{ tag: '0001_stats', sql: 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n' }]);
    await drizzleMigrate(db().url, dir);
    await withAdminClient((a) => a.query(`alter role ${maker} createdb`));
    await grantReads(maker);
    const c = failureCase('shadow.replay-fails');
    const r = await runCase(c, { url: urlAs(maker), dir, cache: cacheDir() });
    expectVerifyCase(r, c, r.vars);
    expect(await scratchOf(db().database)).toEqual([]);
  });

  it('shadow.server-wide: the replay changes no role and nothing of the live database', async () => {
    const appRole = `upkit_shadow_app_${process.pid}`;
    const gone = `upkit_shadow_gone_${process.pid}`;
    const live = db().database;
    const roles = {
      tag: '0001_roles',
      sql: [
        `CREATE ROLE "${appRole}";`,
        `ALTER ROLE "${appRole}" CONNECTION LIMIT 7;`,
        `GRANT "${appRole}" TO CURRENT_USER;`,
        `COMMENT ON DATABASE "${live}" IS 'the app database';`,
        `GRANT CONNECT ON DATABASE "${live}" TO "${appRole}";`,
        `ALTER DATABASE "${live}" SET work_mem = '8MB';`,
      ].join('--> statement-breakpoint\n'),
    };
    const cleanup = { tag: '0002_cleanup', sql: `DO $$ BEGIN EXECUTE 'DROP ROLE IF EXISTS ${gone}'; END $$;\n` };
    try {
      const shared = async () =>
        withAdminClient(
          async (a) =>
            (
              await a.query(
                `select (select rolconnlimit from pg_roles where rolname = $1) ` +
                  `as connlimit, shobj_description(d.oid, 'pg_database') as comment,
               has_database_privilege($1, d.datname, 'CONNECT') as connect, ` +
                  `(select setconfig from pg_db_role_setting s where ` +
                  `s.setdatabase = d.oid and s.setrole = 0) as settings,
               exists (select 1 from pg_roles where rolname = $2) ` +
                  `as gone_exists from pg_database d where d.datname = $3`,
                [appRole, gone, live],
              )
            ).rows[0],
        );
      const operator = async () =>
        withAdminClient((a) =>
          a.query(
            `alter role "${appRole}" connection limit 3; comment on database "${live}" is ` +
              `'changed by the operator'; revoke connect on database "${live}" from public, ` +
              `"${appRole}"; alter database "${live}" reset work_mem; create role "${gone}"`,
          ),
        );

      // Without the DO block: replayed, every server-wide statement skipped.
      const dir = folder(0, [roles]);
      await drizzleMigrate(db().url, dir);
      await operator();
      const before = await shared();
      const r = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], {
        env: { DATABASE_URL: db().url, UPKIT_CACHE_DIR: cacheDir() },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json<Report>().findings.find((f) => f.code === 'verify.expected_schema')?.message).toMatch(
        /^expected schema from the migrations: 2 replayed/,
      );
      expect(await shared()).toEqual(before);
      expect(before).toMatchObject({
        connlimit: 3,
        comment: 'changed by the operator',
        connect: false,
        settings: null,
        gone_exists: true,
      });

      // With it: not replayed at all; the snapshot serves.
      const withDo = folder(0, [roles, cleanup]);
      await withAdminClient((a) => a.query(`drop role "${gone}"`));
      await withClientAt(db().url, (c) => c.query(cleanup.sql));
      await withClientAt(db().url, (c) =>
        c.query(`insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)`, [
          createHash('sha256').update(cleanup.sql).digest('hex'),
          1764633800002,
        ]),
      );
      await withAdminClient((a) => a.query(`create role "${gone}"`));
      const c = failureCase('shadow.server-wide');
      const again = await runCase(c, { url: db().url, dir: withDo, cache: cacheDir() });
      expectVerifyCase(again, c, again.vars);
      expect(await shared()).toEqual(before);
      expect(await scratchOf(live)).toEqual([]);
    } finally {
      await withAdminClient(async (a) => {
        for (const r of [appRole, gone]) {
          await a.query(`drop owned by "${r}"`).catch(() => {});
          await a.query(`drop role if exists "${r}"`);
        }
      });
    }
  });

  it('shadow.interrupted', async () => {
    await drizzleMigrate(db().url, folder());
    const dir = folder(1, [SLOW]);
    const cache = cacheDir();
    const c = failureCase('shadow.interrupted');
    const r = await interruptCase(
      c,
      { url: db().url, dir, cache },
      () => async () => (await shadowSession(db().database, 'pg_sleep')) !== undefined,
    );
    expectCase(r, c, r.vars);
    expect(await scratchOf(db().database)).toEqual([]);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('shadow.leftover', async () => {
    await drizzleMigrate(db().url, folder());
    const cache = cacheDir();
    let pid = 0;
    const killed = runUpkit('verify/index.ts', ['--drizzle-dir', folder(1, [SLOW])], {
      env: { DATABASE_URL: db().url, UPKIT_CACHE_DIR: cache },
      onSpawn: (p) => (pid = p),
    });
    let session: number | undefined;
    for (let i = 0; i < 300; i++) {
      session = await shadowSession(db().database, 'pg_sleep');
      if (session) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(session).toBeDefined();
    process.kill(pid, 'SIGKILL');
    await killed;
    await withAdminClient((a) => a.query('select pg_terminate_backend($1)', [session]));
    const [name] = await scratchOf(db().database);
    expect(name).toMatch(/_shadow_\d{8}t\d{6}z$/);
    const c = failureCase('shadow.leftover');
    const r = await runCase(c, { url: db().url, dir: folder(), cache, name: name!, pid, host: hostname() });
    expectVerifyCase(r, c, r.vars);
    expect(await scratchOf(db().database)).toEqual([]);
  });

  it("install --drizzle-dir of such an app ends clean: the upgrade's verify compares with the replay", async () => {
    const dir = folder();
    const r = await runUpkit(
      'install.ts',
      [...backupArgs(), '--yes', '--no-containers', '--json', '--drizzle-dir', dir],
      { env: { DATABASE_URL: db().url, UPKIT_CACHE_DIR: cacheDir() } },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = r.json<Report>();
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.findings.filter((f) => f.code === 'snapshot.disagrees')).toHaveLength(1);
    expect(await scratchOf(db().database)).toEqual([]);
  });
});
