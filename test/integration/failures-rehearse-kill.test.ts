// Catalogue case rehearse.killed (test/failures/hardening/install.ts): `upgrade.ts --rehearse`
// killed with kill -9 (its whole process group, pg_restore included) while its scratch
// database exists. Real crashes, held at chosen points by locks the test takes on the
// server, not by sleeps: right after CREATE DATABASE, before the database has its marker,
// and during pg_restore. status names the leftover with the command that drops it; the next
// upgrade drops it and nothing else, and the live database is as the killed run found it.
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { companionName } from '../../lib/backup/restoreDb.ts';
import { LOCK_KEY } from '../../lib/db.ts';
import type { Report } from '../../lib/report.ts';
import { dbState, expectCase, failureCase, runCase, type DbState } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, connectTo, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { untilFound } from '../support/wait.ts';

function urlOf(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function one<T>(c: pg.Client, sql: string, params: unknown[] = []): Promise<T | undefined> {
  return (await c.query(sql, params)).rows[0] as T | undefined;
}

/**
 * What the killed run may not change in the live database: schema, rows, both ledgers (upkit.runs holds its own row).
 */
function kept(s: DbState) {
  return {
    schemas: s.schemas.filter((x) => x !== 'upkit'),
    fingerprint: s.fingerprint,
    rows: s.rows,
    drizzle: s.drizzle,
    legacy: [...(s.upkit.get('legacy_migrations') ?? new Map()).values()],
  };
}

describe('failure catalogue: a rehearsal killed with kill -9', backupTests(), () => {
  const db = useFreshDatabase();

  /**
   * Starts `upgrade.ts --yes --rehearse` with the server's comment catalogue locked, so that
   * the run stops right after CREATE DATABASE, before its marker; `during` may then hold it
   * further on. Kills the process group there and returns the scratch database's name.
   */
  async function killRehearsal(
    during: 'create' | 'restore',
  ): Promise<{ scratch: string; pid: number; env: Record<string, string> }> {
    const live = db().database;
    const env = { DATABASE_URL: db().url, BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')) };
    const admin = await connectTo(urlOf(db().url, 'postgres'), 'test blocker');
    const watcher = await connectTo(urlOf(db().url, 'postgres'), 'test watcher');
    let inScratch: pg.Client | undefined;
    try {
      await admin.query('begin');
      await admin.query('lock table pg_catalog.pg_shdescription in share mode');
      let pid = 0;
      const run = runUpkit('upgrade.ts', ['--yes', '--rehearse'], {
        env,
        detached: true,
        onSpawn: (p) => (pid = p),
        timeoutMs: 120_000,
      });
      const blocked = await untilFound(
        () =>
          one<{ pid: number; query: string }>(
            watcher,
            `select pid, query from pg_stat_activity where wait_event_type = ` +
              `'Lock' and query ilike 'comment on database %' and query like $1`,
            [`%${live}\\_rehearsal\\_%`],
          ),
        { what: 'the marker waits on the lock', everyMs: 20, timeoutMs: 40_000 },
      );
      // The one being marked (a database named like it, made by hand, may be there too).
      const { datname: scratch } = (await one<{ datname: string }>(
        watcher,
        `select datname from pg_database where datname like $1 and strpos($2, quote_ident(datname)) > 0`,
        [`${live}\\_rehearsal\\_%`, blocked.query],
      ))!;
      if (during === 'restore') {
        // pg_restore will wait on its first CREATE TABLE: pg_class is held in the scratch database.
        inScratch = await connectTo(urlOf(db().url, scratch), 'test blocker');
        await inScratch.query('begin');
        await inScratch.query('lock table pg_catalog.pg_class in share mode');
        await admin.query('rollback');
        await untilFound(
          () =>
            one(
              watcher,
              `select pid from pg_stat_activity where datname = $1 and ` +
                `application_name = 'upkit' and wait_event_type = 'Lock'`,
              [scratch],
            ),
          { what: 'pg_restore waits in the scratch database', everyMs: 20, timeoutMs: 40_000 },
        );
        expect(
          (await one<{ c: string }>(
            watcher,
            `select shobj_description(oid, 'pg_database') as c from pg_database where datname = $1`,
            [scratch],
          ))!.c,
        ).toMatch(/^upkit restore copy /);
      }
      process.kill(-pid, 'SIGKILL');
      expect((await run).signal).toBe('SIGKILL');
      if (during === 'create') {
        // The kill reached upkit before its COMMENT reached the server.
        await watcher.query('select pg_terminate_backend($1)', [blocked.pid]);
        await untilFound(
          async () =>
            (await watcher.query('select 1 from pg_stat_activity where pid = $1', [blocked.pid])).rowCount
              ? undefined
              : true,
          { what: 'the marker session ended', everyMs: 20, timeoutMs: 40_000 },
        );
      }
      await admin.query('rollback').catch(() => {});
      await inScratch?.query('rollback');
      await inScratch?.end();
      inScratch = undefined;
      return { scratch, pid, env };
    } finally {
      await admin.query('rollback').catch(() => {});
      await Promise.all([admin.end(), watcher.end(), inScratch?.end()]);
    }
  }

  for (const during of ['create', 'restore'] as const) {
    it(
      `rehearse.killed: ` +
        `kill -9 ${during === 'create' ? 'right after CREATE DATABASE, before the marker' : 'during pg_restore'}`,
      async () => {
        await asRelease(db(), 'v2.2');
        const live = db().database;
        const before = await dbState(db().url);
        // Named like a scratch database, made by hand: not upkit's to drop.
        const byHand = companionName(live, 'rehearsal', new Date(Date.UTC(2026, 0, 2, 3, 4, 6)));
        await withAdminClient((a) => a.query(`create database ${a.escapeIdentifier(byHand)}`));
        try {
          const { scratch, pid, env } = await killRehearsal(during);
          const comment = await withAdminClient(
            async (a) =>
              (
                await a.query(`select shobj_description(oid, 'pg_database') as c from pg_database where datname = $1`, [
                  scratch,
                ])
              ).rows,
          );
          expect(comment).toHaveLength(1);
          if (during === 'create') expect(comment[0].c).toBeNull();
          expect(kept(await dbState(db().url))).toEqual(kept(before));

          // status: named, as a dead process's leftover, with the command that drops it; nothing dropped.
          const c = failureCase('rehearse.killed');
          const vars = {
            url: db().url,
            host: db().host,
            port: db().port,
            user: db().user,
            scratch,
            pid,
            machine: hostname(),
          };
          const status = await runCase(c, vars);
          expectCase(status, c, status.vars);
          expect(
            status
              .json<Report>()
              .findings.filter((f) => f.code === 'rehearse.leftover')
              .map((f) => f.message),
          ).toEqual([
            `${byHand} looks like the scratch database of a stopped rehearsal: upkit cannot prove ` +
              `it made it on this host for this server (no marker, another host, or sessions in it)`,
            expect.stringContaining(`${scratch} is the scratch database of a rehearsal that was stopped`),
          ]);
          const names = () =>
            withAdminClient(async (a) =>
              (
                await a.query(`select datname from pg_database where datname like $1 order by 1`, [
                  `${live}\\_rehearsal\\_%`,
                ])
              ).rows.map((r) => r.datname),
            );
          expect(await names()).toEqual([byHand, scratch].sort());

          // A run that cannot take the run lock (another run holds it) drops nothing: only a run
          // holding the lock, its checks passed, may prove a rehearsal stopped.
          const holder = await connectTo(db().url, 'upkit upgrade');
          try {
            await holder.query('select pg_advisory_lock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId]);
            const locked = await runUpkit('upgrade.ts', ['--yes', '--rehearse'], { env });
            expect(locked.code, locked.stderr).toBe(5);
            expect(await names()).toEqual([byHand, scratch].sort());
          } finally {
            await holder.end();
          }

          // The next run drops it, and only it, then rehearses and upgrades as usual.
          const next = await runUpkit('upgrade.ts', ['--yes', '--rehearse', '--json'], { env });
          expect(next.code, next.stderr).toBe(0);
          const report = next.json<Report>();
          expect(report.findings.filter((f) => f.code === 'rehearse.leftover_dropped').map((f) => f.message)).toEqual([
            `dropped ${scratch}, the scratch database of a rehearsal ` +
              `that was stopped (pid ${pid} on ${hostname()} no longer runs)`,
          ]);
          expect(await names()).toEqual([byHand]);
          expect(
            await withClientAt(db().url, async (x) =>
              (await x.query(`select status from upkit.runs order by started_at`)).rows.map((r) => r.status),
            ),
          ).toEqual(['crashed', 'ok']);
        } finally {
          await withAdminClient(async (a) => {
            const { rows } = await a.query(`select datname from pg_database where datname like $1`, [
              `${live}\\_rehearsal\\_%`,
            ]);
            for (const r of rows)
              await a.query(`drop database if exists ${a.escapeIdentifier(r.datname)} with (force)`);
          });
        }
      },
    );
  }
});
