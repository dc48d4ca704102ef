// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): Ctrl-C after changes began:
// during a drizzle migration after another was committed, during the seed data, during
// verification, while the containers start, during the health checks. Each exits 130 with
// the statement in progress rolled back and the run lock released, and says exactly where
// the database stands; the test checks that it stands there.
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import { expectCase, failureCase, runsOf, tempDir } from '../failures/check.ts';
import { interruptCase, logged, waitingOn } from '../failures/interrupt.ts';
import { ROOT } from '../support/cli.ts';
import { backupTests, connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, type FixtureRelease, freshInstallFingerprint } from '../support/releases.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import type pg from 'pg';

const COMPOSE_DOUBLE = path.join(ROOT, 'test/fixtures/compose');

// Each run takes its backup first: skipped where no pg_dump here fits the server.
describe('failure catalogue: interrupted after changes began', backupTests(), () => {
  const db = useFreshDatabase();

  async function lockFree(): Promise<boolean> {
    return withClientAt(db().url, async (c) => {
      const { rows } = await c.query('select pg_try_advisory_lock($1::int, $2::int) as ok', [
        LOCK_KEY.classId,
        LOCK_KEY.objId,
      ]);
      await c.query('select pg_advisory_unlock_all()');
      return rows[0].ok === true;
    });
  }

  async function ledger(c: pg.Client): Promise<number> {
    return (await c.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n;
  }

  /** Runs the case from `release`; `setup` may hold locks and says when to interrupt. */
  async function late(
    id: string,
    release: FixtureRelease,
    setup: (c: pg.Client, blocker: pg.Client) => Promise<(logDir: string) => () => boolean | Promise<boolean>>,
    vars: Record<string, string> = {},
    extraEnv: Record<string, string> = {},
  ) {
    await asRelease(db(), release);
    const c = await connectTo(db().url);
    const blocker = await connectTo(db().url, 'pulse-api');
    try {
      const ready = await setup(c, blocker);
      const backups = tempDir('upkit-case-bk-');
      const fc = failureCase(id);
      const r = await interruptCase(fc, { url: db().url, backups, ...vars }, ready, { extraEnv });
      await blocker.query('rollback').catch(() => {});
      const dumps = readdirSync(backups).filter((f) => f.endsWith('.dump'));
      expect(dumps).toHaveLength(1);
      expectCase(r, fc, { ...r.vars, backup: path.join(backups, dumps[0]!) });
      expect(await lockFree()).toBe(true);
      expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'interrupted' }]);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([c.end(), blocker.end()]);
    }
  }

  it('int.drizzle', async () => {
    await late('int.drizzle', 'v2.1', async (c, blocker) => {
      await blocker.query('begin');
      await blocker.query('lock table aws_integrations in share mode');
      return () => waitingOn(c, /aws_integrations/);
    });
    expect(await withClientAt(db().url, ledger)).toBe(3);
    const { rows } = await withClientAt(db().url, (x) =>
      x.query(
        `select to_regclass('public.audit_logs') is not null as audit, ` +
          `to_regtype('integration_status') is null as no_enum`,
      ),
    );
    expect(rows[0]).toEqual({ audit: true, no_enum: true });
  });

  it('int.seed', async () => {
    const seedTables = async (x: pg.Client) =>
      Promise.all(
        ['organizations', 'roles', 'permissions', 'role_permissions'].map(
          async (t) => (await x.query(`select * from ${t} order by 1`)).rows,
        ),
      );
    let before: unknown;
    await late('int.seed', 'v2.2', async (c, blocker) => {
      before = await seedTables(c);
      await blocker.query('begin');
      await blocker.query('lock table permissions in exclusive mode');
      return () => waitingOn(c, /permissions/);
    });
    await withClientAt(db().url, async (x) => {
      expect(await ledger(x)).toBe(4);
      expect(await schemaFingerprint(x)).toEqual(await freshInstallFingerprint());
      expect(await seedTables(x)).toEqual(before);
    });
  });

  it('int.verify', async () => {
    let locker: pg.Client | undefined;
    try {
      await late('int.verify', 'v2.2', async (c, blocker) => {
        await blocker.query('begin');
        await blocker.query('lock table permissions in exclusive mode');
        return () => {
          let seedWaits = false;
          return async () => {
            if (!seedWaits && (await waitingOn(c, /permissions/)())) {
              // The seed waits. Nothing but verification reads upkit's legacy ledger from here on
              // (its catalog read locks every table it describes): lock it, then let the seed go.
              seedWaits = true;
              locker = await connectTo(db().url, 'pulse-maintenance');
              await locker.query('begin');
              await locker.query('lock table upkit.legacy_migrations in access exclusive mode');
              await blocker.query('rollback');
              return false;
            }
            // Verification's catalog read (its columns query) now waits behind that lock.
            return seedWaits && (await waitingOn(c, /as table_oid/)());
          };
        };
      });
    } finally {
      await locker?.query('rollback').catch(() => {});
      await locker?.end();
    }
    await withClientAt(db().url, async (x) => {
      expect(await ledger(x)).toBe(4);
      expect(await schemaFingerprint(x)).toEqual(await freshInstallFingerprint());
    });
  });

  it('int.containers', async () => {
    const work = tempDir('upkit-case-compose-');
    const compose = path.join(work, 'docker-compose.yml');
    writeFileSync(
      compose,
      'services:\n  api:\n    build: ./api\n  web:\n    build: ./web\n  db:\n    image: postgres:16\n',
    );
    const calls = path.join(work, 'calls.log');
    await late(
      'int.containers',
      'v2.2',
      async () => () => logged(work, /^compose .* ps /m),
      { compose },
      {
        PATH: `${COMPOSE_DOUBLE}:${process.env.PATH}`,
        COMPOSE_DOUBLE_LOG: calls,
        COMPOSE_DOUBLE_STATE: work,
        COMPOSE_DOUBLE_SCENARIO: path.join(COMPOSE_DOUBLE, 'stuck'),
        COMPOSE_DOUBLE_NO_WAIT: '1',
      },
    );
    await withClientAt(db().url, async (x) =>
      expect(await schemaFingerprint(x)).toEqual(await freshInstallFingerprint()),
    );
  });

  it('int.health', async () => {
    let requests = 0;
    const server: Server = createServer((_req, res) => {
      requests += 1;
      res.statusCode = 503;
      res.end('starting');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}/health`;
    try {
      await late('int.health', 'v2.2', async () => () => () => requests > 0, { endpoint });
    } finally {
      server.close();
    }
    await withClientAt(db().url, async (x) =>
      expect(await schemaFingerprint(x)).toEqual(await freshInstallFingerprint()),
    );
  });
});
