// Catalogue cases rollback.writes-updated and rollback.writes-updated-discard
// (test/failures/hardening/rollback.ts): an UPDATE after the upgrade leaves every row count
// as it was; PostgreSQL's write statistics, recorded by the upgrade when it finished, still
// show it. rollback --yes refuses (exit 3, nothing changed) naming the table; with
// --discard-writes it goes back, and both the --json report and upkit.runs say what went.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: rollback after updates', backupTests(), () => {
  const db = useFreshDatabase();

  async function companions(): Promise<string[]> {
    const { rows } = await withAdminClient((c) =>
      c.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1) order by 1', [
        `${db().name}_`,
      ]),
    );
    return rows.map((r) => r.datname);
  }

  /** v2.2 upgraded to v2.3 by upkit; then one row of users updated (its count unchanged), the statistics flushed. */
  async function upgradedThenUpdated(): Promise<Record<string, string>> {
    await asRelease(db(), 'v2.2');
    const env = { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-rollback-') };
    const up = await runUpkit('upgrade.ts', ['--yes'], { env, timeoutMs: 120_000 });
    expect(up.code, up.stderr).toBe(0);
    await withClientAt(db().url, async (c) => {
      const n = (
        await c.query(
          `update public.users set name = 'renamed after the upgrade' ` +
            `where id = (select id from public.users order by id limit 1)`,
        )
      ).rowCount;
      expect(n).toBe(1);
      // Shared when this statement ends (PostgreSQL 15+): no waiting on the statistics' own pace.
      await c.query('select pg_stat_force_next_flush()');
    });
    return env;
  }

  it('rollback.writes-updated', { timeout: 180_000 }, async () => {
    const env = await upgradedThenUpdated();
    const before = await dbState(db().url);
    const c = failureCase('rollback.writes-updated');
    const r = await runCase(c, { url: db().url, database: db().name }, { extraEnv: env, timeoutMs: 60_000 });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await companions()).toEqual([]);
  });

  it('rollback.writes-updated-discard', { timeout: 180_000 }, async () => {
    const env = await upgradedThenUpdated();
    const c = failureCase('rollback.writes-updated-discard');
    const r = await runCase(c, { url: db().url, database: db().name }, { extraEnv: env, timeoutMs: 120_000 });
    expectCase(r, c, r.vars);
    expect(
      await withClientAt(
        db().url,
        async (x) =>
          (await x.query(`select count(*)::int as n from public.users where name = 'renamed after the upgrade'`))
            .rows[0].n,
      ),
    ).toBe(0);
    const recorded = await withClientAt(
      db().url,
      async (x) => (await x.query(`select report->'rollback' as r from upkit.runs where command = 'rollback'`)).rows,
    );
    expect(recorded).toEqual([
      {
        r: expect.objectContaining({
          writesDiscarded: true,
          rowsSetAside: ['public.users (same row count; 1 updated)'],
          writeEvidence: 'row counts and write statistics',
        }),
      },
    ]);
    const [kept] = await companions();
    expect(kept).toMatch(/_before_restore_/);
    await withAdminClient((x) => x.query(`drop database ${x.escapeIdentifier(kept!)} with (force)`));
  });

  it('statistics reset since the upgrade: rollback says row counts are all the evidence', {
    timeout: 180_000,
  }, async () => {
    const env = await upgradedThenUpdated();
    await withClientAt(db().url, (c) => c.query('select pg_stat_reset()'));
    const r = await runUpkit('scripts/rollback.ts', ['--yes', '--json'], { env, timeoutMs: 120_000 });
    // The update is invisible to row counts: nothing to refuse on, and the report says why.
    expect(r.code, r.stderr).toBe(0);
    const notes = r.json().findings.filter((f) => f.code === 'rollback.write_evidence');
    expect(notes).toEqual([
      expect.objectContaining({
        severity: 'info',
        message: expect.stringMatching(
          new RegExp(
            '^writes since the backup are judged by row counts only: the ' +
              String.raw`write statistics were reset since \(\d{4}-\d\d-\d\dT[\d:.]+Z\)$`,
          ),
        ),
      }),
    ]);
    const recorded = await withClientAt(
      db().url,
      async (x) => (await x.query(`select report->'rollback' as r from upkit.runs where command = 'rollback'`)).rows,
    );
    expect(recorded).toEqual([
      {
        r: expect.objectContaining({
          writesDiscarded: false,
          rowsSetAside: [],
          writeEvidence: expect.stringMatching(/^row counts only \(the write statistics were reset since/),
        }),
      },
    ]);
    const [kept] = await companions();
    await withAdminClient((x) => x.query(`drop database ${x.escapeIdentifier(kept!)} with (force)`));
  });

  it("the application's writes while the health checks wait count as writes since the run: rollback refuses", {
    timeout: 180_000,
  }, async () => {
    await asRelease(db(), 'v2.2');
    // The application answers its health check once it has written (a user renamed, the row count unchanged).
    const app = createServer((_req, res) => {
      void withClientAt(db().url, async (c) => {
        await c.query(
          `update public.users set name = 'written during the health checks' ` +
            `where id = (select id from public.users order by id limit 1)`,
        );
        await c.query('select pg_stat_force_next_flush()');
      }).then(
        () => res.end('ok'),
        () => {
          res.statusCode = 500;
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}/health`;
      const env = { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-rollback-'), HEALTHCHECK_URLS: url };
      const up = await runUpkit('upgrade.ts', ['--yes'], { env, timeoutMs: 120_000 });
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toMatch(/✔ health/);
      const before = await dbState(db().url);
      const r = await runUpkit('scripts/rollback.ts', ['--yes'], {
        env: { DATABASE_URL: db().url, BACKUP_DIR: env.BACKUP_DIR },
        timeoutMs: 120_000,
      });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain('public.users (same row count; 1 updated)');
      await expectUnchanged(db().url, before);
    } finally {
      app.close();
    }
  });
});
