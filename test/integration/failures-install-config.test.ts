// Catalogue cases (test/failures/hardening/install.ts): settings PostgreSQL or Node would
// refuse, and a rehearsal the role may not run, are refused before the backup: no backup
// file, no run recorded, the database exactly as it was.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { companionName } from '../../lib/backup/restoreDb.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf } from '../failures/check.ts';
import { backupTests, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { runUpkit } from '../support/cli.ts';

describe('failure catalogue: checked before the backup', backupTests(), () => {
  const db = useFreshDatabase();

  async function before(
    id: string,
    vars: Record<string, string | number> = {},
    url = db().url,
    options: { inProcess?: boolean } = {},
  ): Promise<void> {
    const c = failureCase(id);
    const state = await dbState(url);
    const r = await runCase(
      c,
      { url, host: db().host, port: db().port, user: db().user, database: db().database, ...vars },
      options,
    );
    expectCase(r, c, r.vars);
    expect(existsSync(path.join(r.cwd, 'backups')), `${id}: a backup was taken`).toBe(false);
    expect(await runsOf(url)).toEqual([]);
    await expectUnchanged(url, state);
  }

  for (const id of ['config.lock-timeout-range', 'config.statement-timeout-flag-range', 'config.lock-retries-range']) {
    it(id, async () => {
      await asRelease(db(), 'v2.2');
      // A setting out of range is refused while the settings are read: run in process.
      await before(id, {}, db().url, { inProcess: true });
    });
  }

  it('config.rehearse-no-createdb', async () => {
    const role = `upkit_norehearse_${process.pid}`;
    const password = 'rehearse-pw-1';
    await withAdminClient(async (a) => {
      await a.query(`drop role if exists ${role}`);
      await a.query(`create role ${role} login password '${password}' nocreatedb nocreaterole nosuperuser`);
      await a.query(`alter database ${a.escapeIdentifier(db().database)} owner to ${role}`);
    });
    const u = new URL(db().url);
    u.username = role;
    u.password = password;
    const roleUrl = u.toString();
    try {
      await withClientAt(db().url, (c) => c.query(`alter schema public owner to ${role}`));
      await withClientAt(roleUrl, (c) => buildRelease(c, 'v2.2'));
      await before('config.rehearse-no-createdb', { roleUrl, role }, roleUrl);
    } finally {
      await withAdminClient((a) =>
        a.query(`alter database ${a.escapeIdentifier(db().database)} owner to current_user`),
      ).catch(() => {});
      await withAdminClient((a) => a.query(`drop owned by ${role} cascade`), db().database).catch(() => {});
      await withAdminClient((a) => a.query(`drop role if exists ${role}`)).catch(() => {});
    }
  });

  it('config.url-and-parts', async () => {
    const c = failureCase('config.url-and-parts');
    const state = await dbState(db().url);
    const r = await runCase(c, {
      url: db().url,
      host: db().host,
      port: db().port,
      user: db().user,
      database: db().database,
    });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, state);
  });

  it('config.rehearsal-leftover', async () => {
    await asRelease(db(), 'v2.3');
    const live = db().database;
    const proven = companionName(live, 'rehearsal', new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
    const unproven = companionName(live, 'rehearsal', new Date(Date.UTC(2026, 0, 2, 3, 4, 6)));
    const dead = spawnSync('true').pid!;
    await withAdminClient(async (a) => {
      const server = (await a.query(`select system_identifier::text as id from pg_control_system()`)).rows[0].id;
      for (const name of [proven, unproven]) await a.query(`create database ${a.escapeIdentifier(name)}`);
      const marker = {
        live,
        server,
        stage: 'restoring',
        host: hostname(),
        pid: dead,
        startedAt: new Date().toISOString(),
        backup: '/nowhere',
      };
      await a.query(
        `comment on database ${a.escapeIdentifier(proven)}` +
          ` is ${a.escapeLiteral(`upkit restore copy ${JSON.stringify(marker)}`)}`,
      );
    });
    try {
      // status names both and drops nothing.
      const status = await runUpkit('scripts/status.ts', [], { env: { DATABASE_URL: db().url } });
      expect(status.stderr).toContain(
        `⚠ ${proven} is the scratch database of a rehearsal that was stopped ` +
          `(pid ${dead} on ${hostname()} no longer runs): the next upgrade drops it`,
      );
      expect(status.stderr).toContain(`⚠ ${unproven} looks like the scratch database of a stopped rehearsal`);
      const c = failureCase('config.rehearsal-leftover');
      const state = await dbState(db().url);
      const r = await runCase(c, { url: db().url, host: db().host, port: db().port, user: db().user, unproven });
      expectCase(r, c, r.vars);
      expect(r.stderr).toContain(
        `dropped ${proven}, the scratch database of a rehearsal that ` +
          `was stopped (pid ${dead} on ${hostname()} no longer runs)`,
      );
      const left = await withAdminClient(async (a) =>
        (await a.query(`select datname from pg_database where datname in ($1, $2)`, [proven, unproven])).rows.map(
          (x) => x.datname,
        ),
      );
      expect(left).toEqual([unproven]);
      await expectUnchanged(db().url, state);
    } finally {
      await withAdminClient(async (a) => {
        for (const name of [proven, unproven])
          await a.query(`drop database if exists ${a.escapeIdentifier(name)} with (force)`);
      });
    }
  });
});
