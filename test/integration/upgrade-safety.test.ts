// The upgrade refuses, stops and resumes safely: hand-made objects kept, case-duplicate
// emails, a second run, edited or unknown ledger entries, out-of-order and destructive
// migrations, a lock held by the application.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, backupTests, backupsTestable, useFreshDatabase, connectTo } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

const connect = connectTo;

/** A copy of Pulse's drizzle folder with one more migration appended to the journal. */
function folderWith(extra: { tag: string; sql: string; when: number }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-app-drizzle-'));
  cpSync(DRIZZLE_DIR, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
  journal.entries.push({
    idx: journal.entries.length,
    version: '7',
    when: extra.when,
    tag: extra.tag,
    breakpoints: true,
  });
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  writeFileSync(path.join(dir, `${extra.tag}.sql`), extra.sql);
  // verification compares with the newest snapshot: the same schema plus
  // what the extra adds is not modelled, so reuse 0003's.
  cpSync(
    path.join(dir, 'meta', '0003_snapshot.json'),
    path.join(dir, 'meta', `${String(journal.entries.length - 1).padStart(4, '0')}_snapshot.json`),
  );
  return dir;
}

describe('upgrade safety', () => {
  const db = useFreshDatabase();
  const env = () => ({ DATABASE_URL: db().url, BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')) });

  it('keeps a hand-added column with its data and reports it as a warning', async () => {
    await asRelease(db(), 'v1.3');
    const c = await connect(db().url);
    try {
      await c.query(`alter table users add column nickname text`);
      await c.query(`update users set nickname = 'nick-' || id`);
      const r = await runUpkit('upgrade.ts', [...backupArgs(), '--json', '--yes'], { env: env() });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().findings).toContainEqual(
        expect.objectContaining({
          severity: 'warning',
          code: 'schema.extra_column',
          message: expect.stringContaining('nickname'),
        }),
      );
      const { rows } = await c.query(`select count(*)::int as n from users where nickname = 'nick-' || id`);
      expect(rows[0].n).toBe(40);
    } finally {
      await c.end();
    }
  });

  it('stops on case-duplicate emails, naming both, with no user row changed', async () => {
    await asRelease(db(), 'v1.2');
    const c = await connect(db().url);
    try {
      const org = (await c.query(`select id from organizations where slug = 'org-2'`)).rows[0].id;
      await c.query(
        `insert into users (organization_id, email, password_hash) ` +
          `values ($1, 'Alice@x.example', 'a'), ($1, 'alice@x.example', 'b')`,
        [org],
      );
      const users = (await c.query('select * from users order by id')).rows;
      const r = await runUpkit('upgrade.ts', [...backupArgs(), '--yes'], { env: env() });
      // v1.3's own check runs read-only in the plan: refused before anything is written.
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(
        'users whose emails differ only by case: Alice@x.example ' +
          '(organization org-2) and alice@x.example (organization org-2)',
      );
      expect(r.stderr).toContain('nothing was changed');
      expect((await c.query('select * from users order by id')).rows).toEqual(users);
      expect((await c.query(`select to_regclass('upkit.runs') as t`)).rows).toEqual([{ t: null }]);
    } finally {
      await c.end();
    }
  });

  it('refuses a second run at once with exit 5, naming the holder', async () => {
    const holder = await connect(db().url, 'upkit upgrade ops-host 4242');
    try {
      await holder.query('select pg_advisory_lock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId]);
      const pid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid;
      const r = await runUpkit('upgrade.ts', [...backupArgs(), '--yes'], { env: env() });
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(
        `another upkit run holds the lock on ${db().database}: pid ${pid} (upkit upgrade ops-host 4242`,
      );
    } finally {
      await holder.end();
    }
  });

  it('refuses an edited applied migration and a database ahead of the code, changing nothing', async () => {
    await asRelease(db(), 'v2.2');
    const c = await connect(db().url);
    try {
      const m1 = readMigrations(DRIZZLE_DIR)[1]!;
      await c.query('update drizzle.__drizzle_migrations set hash = $1 where created_at = $2', [
        '0'.repeat(64),
        m1.when,
      ]);
      const before = {
        fp: await schemaFingerprint(c),
        rows: await rowSnapshot(c),
        drizzle: await rowSnapshot(c, 'drizzle'),
      };
      const edited = await runUpkit('upgrade.ts', [...backupArgs(), '--yes'], { env: env() });
      expect(edited.code).toBe(3);
      expect(edited.stderr).toContain(
        "0001_api_keys.sql was changed after it was applied: its sha256 no longer matches drizzle's ledger",
      );
      await c.query('update drizzle.__drizzle_migrations set hash = $1 where created_at = $2', [m1.hash, m1.when]);
      await c.query(
        `insert into drizzle.__drizzle_migrations (hash, created_at) values ('${'f'.repeat(64)}', 4102444800000)`,
      );
      const ahead = await runUpkit('upgrade.ts', [...backupArgs(), '--yes'], { env: env() });
      expect(ahead.code).toBe(3);
      expect(ahead.stderr).toContain(
        'the database records 1 migration these files do not have (created_at 4102444800000)',
      );
      await c.query(`delete from drizzle.__drizzle_migrations where created_at = 4102444800000`);
      expect(await schemaFingerprint(c)).toEqual(before.fp);
      expect(await rowSnapshot(c)).toEqual(before.rows);
      expect(await c.query(`select to_regnamespace('upkit') as s`).then((r) => r.rows[0].s)).toBeNull();
    } finally {
      await c.end();
    }
  });

  it('applies an out-of-order journal entry that drizzle would skip', async () => {
    await asRelease(db(), 'v2.3');
    const c = await connect(db().url);
    try {
      const first = readMigrations(DRIZZLE_DIR)[0]!;
      const dir = folderWith({
        tag: '0004_late_branch',
        sql: 'CREATE TABLE "late_branch" ("id" integer PRIMARY KEY);',
        when: first.when + 1,
      });
      const r = await runUpkit('upgrade.ts', [...backupArgs(), '--json', '--yes', '--drizzle-dir', dir], {
        env: env(),
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('0004_late_branch is older than the newest applied migration and was never applied');
      expect((await c.query(`select to_regclass('public.late_branch') is not null as ok`)).rows[0].ok).toBe(true);
      const ledger = (await c.query('select hash, created_at from drizzle.__drizzle_migrations order by id')).rows;
      expect(ledger).toHaveLength(5);
      await migrate(drizzle(c), { migrationsFolder: dir });
      expect((await c.query('select hash, created_at from drizzle.__drizzle_migrations order by id')).rows).toEqual(
        ledger,
      );
    } finally {
      await c.end();
    }
  });

  it('refuses destructive SQL without --allow-destructive, changing nothing, and applies it with', async () => {
    await asRelease(db(), 'v2.3');
    const c = await connect(db().url);
    try {
      const last = readMigrations(DRIZZLE_DIR)[3]!;
      const dir = folderWith({
        tag: '0004_drop_name',
        sql: 'ALTER TABLE "users" DROP COLUMN "name";',
        when: last.when + 1000,
      });
      const before = { fp: await schemaFingerprint(c), rows: await rowSnapshot(c) };
      const refused = await runUpkit('upgrade.ts', [...backupArgs(), '--yes', '--drizzle-dir', dir], { env: env() });
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain('1 destructive statement pending: 0004_drop_name.sql:1 drops column users.name');
      expect(refused.stderr).toContain('run again with --allow-destructive');
      expect(await schemaFingerprint(c)).toEqual(before.fp);
      expect(await rowSnapshot(c)).toEqual(before.rows);
      const allowed = await runUpkit(
        'upgrade.ts',
        [...backupArgs(), '--json', '--yes', '--allow-destructive', '--drizzle-dir', dir],
        { env: env() },
      );
      if (backupsTestable()) expect(allowed.json().backup).not.toBeNull();
      expect(
        (
          await c.query(
            `select count(*)::int as n from information_schema.columns ` +
              `where table_name = 'users' and column_name = 'name'`,
          )
        ).rows[0].n,
      ).toBe(0);
    } finally {
      await c.end();
    }
  });

  it(
    'gives way to a lock the application holds, retries, and gives up naming the blocker; ' +
      'application queries wait only on its pending request and go on when it gives way',
    async () => {
      await asRelease(db(), 'v2.2');
      const c = await connect(db().url);
      const blocker = await connect(db().url, 'pulse-api report');
      const app = await connect(db().url, 'pulse-api');
      const monitor = await connect(db().url, 'upkit test monitor');
      try {
        await blocker.query('begin');
        await blocker.query('select count(*) from aws_integrations');
        const blockerPid = (await blocker.query('select pg_backend_pid() as pid')).rows[0].pid;
        const appPid = (await app.query('select pg_backend_pid() as pid')).rows[0].pid;
        let appQueries = 0;
        let running = true;
        const loop = (async () => {
          while (running) {
            await app.query('select count(*) from aws_integrations');
            appQueries += 1;
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        // What the server shows while upkit runs: who the application's session waits on, and
        // whether upkit's conflicting lock on the table is granted or only requested.
        type Sample = { appWaits: boolean; upkitPids: number[]; appQueries: number };
        const samples: Sample[] = [];
        const violations: string[] = [];
        const sample = async (): Promise<Sample> => {
          const done = appQueries;
          const { rows } = await monitor.query<{
            pid: number;
            app: string;
            wait: string | null;
            blocked_by: number[];
            locks: string[];
          }>(
            `select a.pid, a.application_name as app, a.wait_event_type as wait, pg_blocking_pids(a.pid) as blocked_by,
             coalesce((select array_agg(l.mode || ' ' || case when l.granted then 'granted' else 'requested' end)
                         from pg_locks l where l.pid = a.pid ` +
              `and l.relation = 'aws_integrations'::regclass), '{}') as locks
           from pg_stat_activity a where a.datname = current_database() and a.pid <> pg_backend_pid()`,
          );
          const upkit = rows.filter((r) => r.app.startsWith('upkit ') && !r.app.startsWith('upkit test'));
          const upkitPids = upkit.map((r) => r.pid);
          const appRow = rows.find((r) => r.pid === appPid);
          const appWaits = appRow?.wait === 'Lock';
          if (appWaits) {
            for (const pid of appRow!.blocked_by) {
              if (!upkitPids.includes(pid)) violations.push(`the application waited on pid ${pid}, not upkit`);
              // Only an AccessExclusiveLock conflicts with the application's AccessShareLock.
              const locks = upkit.find((r) => r.pid === pid)?.locks ?? [];
              if (locks.includes('AccessExclusiveLock granted'))
                violations.push(`the application waited while upkit held ${locks.join(', ')}`);
              else if (!locks.includes('AccessExclusiveLock requested'))
                violations.push(
                  `the application waited on upkit, which requested no lock on the table: ${locks.join(', ')}`,
                );
            }
          }
          for (const r of rows)
            if (r.pid !== appPid && r.wait === 'Lock' && r.blocked_by.some((p) => upkitPids.includes(p)))
              violations.push(`${r.app} (pid ${r.pid}) waited on upkit`);
          return { appWaits, upkitPids, appQueries: done };
        };
        let finished = false;
        const sampling = (async () => {
          while (!finished) {
            samples.push(await sample());
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        const r = await runUpkit('upgrade.ts', [...backupArgs(), '--yes'], {
          env: { ...env(), LOCK_TIMEOUT: '150', LOCK_RETRIES: '3' },
        });
        finished = true;
        await sampling;
        samples.push(await sample());
        running = false;
        await loop;
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toMatch(/lock busy \(pid \d+ \(pulse-api report\) holds AccessShareLock on aws_integrations/);
        expect(r.stderr).toContain(
          `could not get its locks within 150 ms after 4 attempts; ` +
            `pid ${blockerPid} (pulse-api report) holds AccessShareLock on aws_integrations`,
        );
        expect(r.stderr).toContain(`SELECT pg_cancel_backend(${blockerPid});`);
        // Three retries after the first attempt, each announced as it gave way.
        expect(r.stderr.match(/lock busy \(/g)).toHaveLength(3);
        for (const i of [1, 2, 3]) expect(r.stderr).toContain(`application queries were not held up; retry ${i}/3 in`);
        // The application only ever queued behind upkit's requested (never granted) lock, and
        // each wait ended while upkit was still connected: it gave way, the query went on.
        expect(violations).toEqual([]);
        const episodes: number[] = [];
        samples.forEach((s, i) => {
          if (s.appWaits && !samples[i - 1]?.appWaits) episodes.push(i);
        });
        expect(episodes.length, 'samples in which the application waited on upkit').toBeGreaterThanOrEqual(2);
        for (const start of episodes.slice(0, -1)) {
          const released = samples
            .slice(start)
            .find((s) => !s.appWaits && s.appQueries > samples[start]!.appQueries && s.upkitPids.length > 0);
          expect(released, `the wait seen in sample ${start} ended while upkit still ran`).toBeDefined();
        }
        expect(samples.at(-1)).toMatchObject({ appWaits: false, upkitPids: [] });
        expect(
          (await c.query(`select count(*)::int as n from pg_type where typname = 'integration_status'`)).rows[0].n,
        ).toBe(0);
      } finally {
        await blocker.query('rollback').catch(() => {});
        await Promise.all([c.end(), blocker.end(), app.end(), monitor.end()]);
      }
    },
  );
});

describe('upgrade --rehearse', backupTests(), () => {
  const db = useFreshDatabase();

  async function databases(c: pg.Client): Promise<string[]> {
    return (
      await c.query(`select datname from pg_database where datname like $1 order by 1`, [`${db().database}_rehearsal%`])
    ).rows.map((r) => r.datname);
  }

  it('runs the plan on a restored copy first, then on the real database, leaving no copy behind', async () => {
    await asRelease(db(), 'v1.2');
    const c = await connect(db().url);
    try {
      const r = await runUpkit('upgrade.ts', ['--yes', '--json', '--rehearse'], {
        env: { DATABASE_URL: db().url, BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')) },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().findings).toContainEqual(expect.objectContaining({ code: 'rehearse.ok' }));
      expect(r.stderr).toMatch(/rehearsal: drizzle: 0003_integration_status_enum/);
      expect(await databases(c)).toEqual([]);
      expect((await c.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).rows[0].n).toBe(4);
    } finally {
      await c.end();
    }
  });

  it('stops before touching the real database when the rehearsal fails', async () => {
    await asRelease(db(), 'v1.2');
    const c = await connect(db().url);
    try {
      // A hand-made rule that v1.4's flag merge breaks: nothing the plan can foresee, so the rehearsal meets it.
      await c.query(
        `alter table organizations add constraint no_discovery_flag check (not (features_enabled ? 'discovery'))`,
      );
      const before = { fp: await schemaFingerprint(c), rows: await rowSnapshot(c) };
      const r = await runUpkit('upgrade.ts', ['--yes', '--rehearse'], {
        env: { DATABASE_URL: db().url, BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')) },
      });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain('the rehearsal on a restored copy failed, so the real database was not touched');
      expect(r.stderr).toContain('no_discovery_flag');
      expect(await schemaFingerprint(c)).toEqual(before.fp);
      expect(await rowSnapshot(c)).toEqual(before.rows);
      expect(await databases(c)).toEqual([]);
    } finally {
      await c.end();
    }
  });
});
