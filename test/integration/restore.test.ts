// Restoring a backup of a v2.3 install with data: beside the live database (--into) and
// in place (restored copy swapped in, the live one kept), with rows, schema, per-database
// settings and grants compared; the confirmation without a terminal; no password in argv.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { deparseInsensitive } from '../../lib/backup/restore.ts';
import { takeBackup, type BackupResult } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { runUpkit, sampleArgv } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withAdminClient, type TestDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';
import { DURATION } from '../support/logLines.ts';
import { companions } from '../support/backupFormat.ts';

const RESTORE = 'scripts/restore.ts';
const SENTINEL = 'S3ntinel p@ss:/%# word';
const FORMS = [SENTINEL, encodeURIComponent(SENTINEL), encodeURIComponent(SENTINEL).toLowerCase(), 'S3ntinel'];

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

async function backupOf(db: TestDatabase): Promise<BackupResult> {
  await asRelease(db, 'v2.3');
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-restore-'));
  const config = loadConfig({ env: { DATABASE_URL: db.url }, cwd: dir });
  return takeBackup(config, quiet(), { backupDir: dir, keep: 5, upkitVersion: 'test' });
}

async function exactFingerprint(database: string): Promise<string[]> {
  return withAdminClient((c) => schemaFingerprint(c), database);
}

/**
 * What an application sees of the database while `run` runs: a new connection and one query
 * every few ms. Each poll is the organization's name and the audit rows counted, or the
 * SQLSTATE (or message) it failed with.
 */
async function pollWhile<T>(url: string, run: () => Promise<T>): Promise<{ result: T; seen: string[] }> {
  const seen: string[] = [];
  const poll = async () => {
    const c = new pg.Client({ connectionString: url, application_name: 'pulse-api' });
    c.on('error', () => {});
    try {
      await c.connect();
      const { rows } = await c.query(
        `select (select string_agg(name, ',' order by id) from organizations) ` +
          `as names, (select count(*)::int from audit_logs) as audit`,
      );
      seen.push(`${rows[0].names} / ${rows[0].audit}`);
    } catch (err) {
      const e = err as { code?: string; message?: string; detail?: string };
      seen.push(`failed ${[e.code ?? e.message, e.code && e.message, e.detail].filter(Boolean).join(': ')}`);
    } finally {
      await c.end().catch(() => {});
    }
  };
  await poll();
  let done = false;
  const polling = (async () => {
    while (!done) {
      await poll();
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    const result = await run();
    return { result, seen };
  } finally {
    done = true;
    await polling;
    await poll();
  }
}

/**
 * Everything a restore could have changed: rows of every schema and the schema; owner, settings and grants of the
 * database.
 */
async function stateOf(database: string) {
  return withAdminClient(
    async (c) => ({
      data: {
        public: await rowSnapshot(c, 'public'),
        drizzle: await rowSnapshot(c, 'drizzle'),
        upkit: await rowSnapshot(c, 'upkit'),
        // pg_restore gives some CHECK expressions back in another (equivalent) form; see deparseInsensitive.
        fingerprint: (await schemaFingerprint(c)).map(deparseInsensitive),
      },
      database: await databaseLevel(c, database),
    }),
    database,
  );
}

async function databaseLevel(c: pg.Client, database: string) {
  const { rows } = await c.query<{ acl: string | null; settings: string[] | null; owner: string }>(
    `select d.datacl::text as acl, pg_get_userbyid(d.datdba) as owner,
            (select array_agg(coalesce(r.rolname, '*') ` +
      `|| ' ' || array_to_string(s.setconfig, ';') order by r.rolname nulls first)
               from pg_db_role_setting s left join pg_roles r ` +
      `on r.oid = s.setrole where s.setdatabase = d.oid) as settings
       from pg_database d where d.datname = $1`,
    [database],
  );
  return rows[0]!;
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.includes('✖'));

describe('restore', backupTests(), () => {
  const db = useFreshDatabase();
  afterEach(async () => {
    for (const name of await companions(db()))
      await withAdminClient((c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`));
  });

  it(
    'restores --into a new database with identical rows (drizzle ' +
      'ledger included) and schema, leaving the live one alone',
    async () => {
      const backup = await backupOf(db());
      const into = `${db().name}_copy`;
      const live = await stateOf(db().name);
      const r = await runUpkit(RESTORE, [backup.path, '--into', into, '--yes', '--json'], {
        env: { DATABASE_URL: db().url },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        new RegExp(
          `restored ${backup.path} into the new database ${into} on .* \\(\\d+ tables, ` +
            `\\d+ rows, pg_restore [\\d.]+ s\\); ${db().name} was not changed`,
        ),
      );
      const report = r.json();
      expect(report).toMatchObject({
        command: 'restore',
        status: 'ok',
        exitCode: 0,
        findings: [],
        backup: { path: backup.path, bytes: backup.manifest.bytes, sha256: backup.manifest.sha256 },
      });
      const copy = await stateOf(into);
      expect(copy.data.drizzle.get('__drizzle_migrations')?.size).toBe(4);
      expect(copy).toEqual(live);
      // Exactly equal but for the one constraint whose expression a dump and restore re-forms.
      const exact = { live: await exactFingerprint(db().name), copy: await exactFingerprint(into) };
      expect(exact.copy.filter((l) => !exact.live.includes(l))).toEqual([
        expect.stringMatching(
          /^constraint discovery_code_generations\.discovery_code_generations_format_check c CHECK /,
        ),
      ]);
      expect(await stateOf(db().name)).toEqual(live);
      expect(await companions(db())).toEqual([into]);
    },
  );

  it(
    'restores in place: the restored database takes the name, ' + 'the changed one is kept, settings and grants follow',
    async () => {
      const backup = await backupOf(db());
      const atBackup = await stateOf(db().name);
      await withAdminClient(async (c) => {
        await c.query(`delete from audit_logs where id in (select id from audit_logs order by id limit 7)`);
        await c.query(`update organizations set name = 'changed after the backup'`);
      }, db().database);
      await withAdminClient(async (c) => {
        const d = c.escapeIdentifier(db().name);
        await c.query(`alter database ${d} set search_path to "$user", public, "My Schema"`);
        await c.query(`alter database ${d} set statement_timeout = '5min'`);
        await c.query(`alter role current_user in database ${d} set work_mem = '8MB'`);
        await c.query(`revoke connect on database ${d} from public`);
      });
      const changed = await stateOf(db().name);
      expect(changed.data.public.get('audit_logs')!.size).toBe(atBackup.data.public.get('audit_logs')!.size - 7);

      const polled = async () =>
        withAdminClient(async (c) => {
          const { rows } = await c.query(
            `select (select string_agg(name, ',' order by id) from organizations) ` +
              `as names, (select count(*)::int from audit_logs) as audit`,
          );
          return `${rows[0].names} / ${rows[0].audit}`;
        }, db().database);
      const beforeSeen = await polled();
      const { result: r, seen } = await pollWhile(db().url, () =>
        runUpkit(RESTORE, [backup.path, '--yes', '--json'], { env: { DATABASE_URL: db().url } }),
      );
      expect(r.code, r.stderr).toBe(0);
      const afterSeen = await polled();
      expect(afterSeen).not.toBe(beforeSeen);
      // An application polling all along saw the database as it was, then (after at most a few
      // refused connections or ended sessions, during the swap) the restored one, complete:
      // never a missing database, an empty or half-restored one, nor the old one again.
      const failed = seen.filter((s) => s.startsWith('failed '));
      const firstRestored = seen.indexOf(afterSeen);
      expect(seen[0]).toBe(beforeSeen);
      expect(seen.at(-1)).toBe(afterSeen);
      expect(seen.slice(0, firstRestored).filter((s) => s !== beforeSeen && !s.startsWith('failed '))).toEqual([]);
      expect(seen.slice(firstRestored).filter((s) => s !== afterSeen)).toEqual([]);
      expect(seen.slice(0, seen.lastIndexOf(beforeSeen)).filter((s) => s.startsWith('failed '))).toEqual([]);
      for (const f of failed)
        expect(f, `${failed.length} of ${seen.length} polls failed`).toMatch(
          new RegExp(
            `^failed (${[
              // its sessions ended, then connections refused, until the renames commit
              '57P01: terminating connection due to administrator command',
              'Connection terminated unexpectedly',
              `55000: database "${db().name}" is not currently accepting connections`,
              // PostgreSQL's answer to a connection that waited for the renames' commit
              `3D000: database "${db().name}" does not exist: It seems to have just been dropped or renamed.`,
            ]
              .map((m) => m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
              .join('|')})$`,
          ),
        );
      const kept = await companions(db());
      expect(kept).toEqual([expect.stringMatching(new RegExp(`^${db().name}_before_restore_\\d{8}t\\d{6}z$`))]);
      const previous = kept[0]!;

      const restored = await stateOf(db().name);
      expect(restored.data).toEqual(atBackup.data);
      expect(restored.database).toEqual(changed.database);
      expect(restored.database.settings).toEqual([
        `* search_path="$user", public, "My Schema";statement_timeout=5min`,
        `${db().user} work_mem=8MB`,
      ]);
      expect(restored.database.acl).toMatch(/[{,]=T\//);
      expect(await stateOf(previous)).toEqual(changed);

      const report = r.json();
      const swap = (report.phases as Array<{ name: string; detail: string }>).find((p) => p.name.startsWith('swap '));
      // One attempt: both renames committed together (the swap gives way and retries otherwise).
      expect(swap?.detail).toMatch(
        new RegExp(
          `^swap window \\d+ ms, \\d+ sessions? of ${db().name} ended; ` +
            `the previous ${db().name} is kept as ${previous}$`,
        ),
      );
      expect(report.findings).toEqual([
        expect.objectContaining({
          severity: 'info',
          code: 'restore.previous_kept',
          message: expect.stringContaining(previous!),
        }),
      ]);
      expect(r.stderr).toContain(`in place (`);
      expect(r.stderr).toContain(`the database as it was before is kept as ${previous}`);
      expect(r.stderr).toContain(
        `→ drop it when you are satisfied: psql -h ${db().host} -p ${db().port} -U ` +
          `${db().user} -d postgres -v ON_ERROR_STOP=1 -c 'DROP DATABASE "${previous}"'`,
      );
      expect(r.stderr).toContain(`→ to go back, swap the names back: psql`);
    },
  );

  it('refuses without --yes and without a terminal: exit 2, nothing created', async () => {
    const backup = await backupOf(db());
    const r = await runUpkit(RESTORE, [backup.path], { env: { DATABASE_URL: db().url } });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringContaining(
        '✖ restore asks you to type the database name, and there is no terminal to ask on; nothing was changed',
      ),
    ]);
    expect(r.stderr).toContain(`→ run it on a terminal, or add --yes: npx zx scripts/restore.ts ${backup.path} --yes`);
    expect(await companions(db())).toEqual([]);
  });

  it('refuses --into a database that exists: exit 3', async () => {
    const backup = await backupOf(db());
    const taken = `${db().name}_taken`;
    await withAdminClient((c) => c.query(`create database ${c.escapeIdentifier(taken)}`));
    const r = await runUpkit(RESTORE, [backup.path, '--into', taken, '--yes', '--json'], {
      env: { DATABASE_URL: db().url },
    });
    expect(r.code).toBe(3);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(new RegExp(`✖ check .* {2}database ${taken} already exists \\(${DURATION}\\)$`)),
    ]);
    expect(r.json().findings).toEqual([expect.objectContaining({ code: 'restore.target_exists' })]);
    expect(await companions(db())).toEqual([taken]);
  });

  it(
    'says to rerun with --no-owner when the archive names ' + 'a role the server lacks, and --no-owner restores',
    async () => {
      const role = `upkit_gone_owner_${process.pid}`;
      await asRelease(db(), 'v2.3');
      await withAdminClient((c) => c.query(`create role ${role}`));
      try {
        await withAdminClient((c) => c.query(`alter table api_keys owner to ${role}`), db().database);
        const dir = mkdtempSync(path.join(tmpdir(), 'upkit-restore-'));
        const backup = await takeBackup(loadConfig({ env: { DATABASE_URL: db().url }, cwd: dir }), quiet(), {
          backupDir: dir,
          keep: 5,
          upkitVersion: 'test',
        });
        await withAdminClient(
          (c) => c.query(`reassign owned by ${role} to current_user; drop owned by ${role}`),
          db().database,
        );
        await withAdminClient((c) => c.query(`drop role ${role}`));

        const into = `${db().name}_copy`;
        const r = await runUpkit(RESTORE, [backup.path, '--into', into, '--yes', '--json'], {
          env: { DATABASE_URL: db().url },
        });
        expect(r.code, r.stderr).toBe(3);
        expect(errorLines(r.stderr)).toEqual([
          expect.stringMatching(
            new RegExp(
              `✖ pg_restore → ${into} {2}pg_restore failed in ${into}: ` +
                `ERROR: role "${role}" does not exist \\(${DURATION}\\)$`,
            ),
          ),
        ]);
        expect(r.stderr).toContain(
          `run the same restore again with --no-owner (objects then belong to the restoring role and the ` +
            `archive's grants are skipped): npx zx scripts/restore.ts ${backup.path} --into ${into} --yes --no-owner`,
        );
        expect(r.stderr).toContain(`    Command was: ALTER TABLE public.api_keys OWNER TO ${role};`);
        expect(r.json().findings).toEqual([expect.objectContaining({ code: 'restore.ownership' })]);
        expect(await companions(db())).toEqual([]);

        const again = await runUpkit(RESTORE, [backup.path, '--into', into, '--yes', '--no-owner'], {
          env: { DATABASE_URL: db().url },
        });
        expect(again.code, again.stderr).toBe(0);
        expect(again.stderr).toMatch(/pg_restore → \S+ {2}\d+ entries in .* \(--no-owner\)/);
      } finally {
        await withAdminClient((c) => c.query(`drop role if exists ${role}`));
      }
    },
  );

  it('never puts the password in any process argv, output or log', async () => {
    const role = `upkit_restore_sentinel_${process.pid}`;
    const backup = await backupOf(db());
    await withAdminClient((c) => c.query(`create role ${role} login superuser password '${SENTINEL}'`));
    try {
      const env = {
        DB_HOST: db().host,
        DB_PORT: String(db().port),
        DB_USER: role,
        DB_PASSWORD: SENTINEL,
        DB_NAME: db().database,
      };
      const { result: r, commandLines } = await sampleArgv(
        () => runUpkit(RESTORE, [backup.path, '--yes', '--json'], { env }),
        5,
      );
      expect(r.code, r.stderr).toBe(0);
      expect([...commandLines].some((l) => /pg_restore .*--jobs=\d+/.test(l))).toBe(true);
      for (const line of commandLines) for (const form of FORMS) expect(line).not.toContain(form);
      for (const out of [r.stdout, r.stderr, r.logs()]) for (const form of FORMS) expect(out).not.toContain(form);
    } finally {
      await withAdminClient((c) => c.query(`drop role if exists ${role}`));
    }
  });
});
