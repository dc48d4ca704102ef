// Catalogue cases: a lock that blocks verify costs the area it keeps from being read, never
// the report. Each area reads under a savepoint; the one that waited 5 s is named as not read
// with the session holding the lock (pid, user, application, age, query), the others are
// read and reported, and the exit code is 5 (4 when what was read has an error).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '../../lib/quote.ts';
import { dbState, expectCase, expectUnchanged, failureCase, plainLines, runCase, tempDir } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

type Report = {
  exitCode: number;
  findings: Array<{ severity: string; code: string; message: string; hint: string | null }>;
};

/** A session that holds what `sql` takes until the end of fn, rolled back afterwards. */
async function holding<T>(
  url: string,
  name: string,
  sql: string[],
  fn: (who: { pid: number; user: string }, c: pg.Client) => Promise<T>,
): Promise<T> {
  const c = await connectTo(url, name);
  try {
    const { pid, user } = (await c.query('select pg_backend_pid() as pid, current_user as user')).rows[0];
    await c.query('begin');
    for (const q of sql) await c.query(q);
    return await fn({ pid, user }, c);
  } finally {
    await c.query('rollback').catch(() => {});
    await c.end();
  }
}

const codes = (r: Report) => r.findings.map((f) => f.code);

describe('failure catalogue: verify behind a lock', () => {
  const db = useFreshDatabase();

  it('verify.locked: the seed data area is not read, the schema and the ledgers are', async () => {
    await asRelease(db(), 'v2.3');
    const before = await dbState(db().url);
    await holding(
      db().url,
      'pulse-api report',
      ['lock table organizations in access exclusive mode'],
      async ({ pid, user }, blocker) => {
        const c = failureCase('verify.locked');
        const r = await runCase(c, { url: db().url, pid, user });
        expectCase(r, c, r.vars);
        const report = r.json() as Report;
        expect(report.findings.filter((f) => f.code === 'verify.locked')).toHaveLength(1);
        // What was read is reported: the ledgers' release line; nothing is claimed about seed data.
        expect(codes(report)).toContain('ledger.release');
        expect(codes(report).filter((x) => x.startsWith('seed.'))).toEqual([]);
        const lines = plainLines(r.stderr);
        expect(
          lines.some((l) => /^✔ schema /.test(l)),
          r.stderr,
        ).toBe(true);
        expect(
          lines.some((l) =>
            new RegExp(
              '^✖ seed data {2}seed data not read: verification waited 5 ' +
                String.raw`s for a lock on organizations held by server process \d+ `,
            ).test(l),
          ),
          r.stderr,
        ).toBe(true);
        expect(lines.some((l) => /^✔ seed data/.test(l))).toBe(false);
        expect((await blocker.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
      },
    );
    await expectUnchanged(db().url, before);
  });

  it(
    'verify.locked-partial: a lock on the ledger keeps the schema ' +
      'warning and the seed data in the report; the terminal says incomplete',
    async () => {
      await asRelease(db(), 'v2.3');
      await withClientAt(db().url, async (c) => {
        await c.query('alter table organizations add column note text');
      });
      const before = await dbState(db().url);
      const dir = tempDir();
      const envDir = path.join(dir, "my env's");
      mkdirSync(envDir);
      const envFile = path.join(envDir, '.env');
      writeFileSync(envFile, '# settings come from the environment\n');
      await holding(
        db().url,
        'migrator',
        ['lock table drizzle.__drizzle_migrations in access exclusive mode'],
        async ({ pid, user }) => {
          const c = failureCase('verify.locked-partial');
          const r = await runCase(
            c,
            { url: db().url, pid, user, envFile, envFileQuoted: shellQuote(envFile) },
            { cwd: dir },
          );
          expectCase(r, c, r.vars);
          const report = r.json() as Report;
          expect(codes(report)).toContain('schema.extra_column');
          expect(codes(report)).toContain('seed.counts');
          // The ledger was not read: nothing pending, no release claimed.
          expect(codes(report).filter((x) => x.startsWith('ledger.'))).toEqual([]);
          // The human report (without --json) marks the area and says the report is incomplete.
          const human = await runCase({ ...c, json: false }, r.vars, { cwd: dir });
          expect(human.code).toBe(5);
          expect(human.stdout).toContain('ledgers: not read (locked)');
          expect(human.stdout).toMatch(
            new RegExp(
              String.raw`verify: 1 error, 1 warning \(schema [\d.]+ s, ledgers not read, seed data [\d.]+ ` +
                String.raw`s, runtime not checked\); the report is incomplete: ledgers not read \(locked\)$`,
              'm',
            ),
          );
        },
      );
      await expectUnchanged(db().url, before);
    },
  );

  it('a lock on the ledger with a schema error: exit 4, the error and the area not read both reported', async () => {
    await asRelease(db(), 'v2.3');
    await withClientAt(db().url, async (c) => {
      await c.query('alter table organizations drop column features_enabled');
    });
    await holding(
      db().url,
      'migrator',
      ['lock table drizzle.__drizzle_migrations in access exclusive mode'],
      async ({ pid }) => {
        const r = await runCase(failureCase('verify.locked-partial'), { url: db().url, envFile: '/dev/null' });
        const report = r.json() as Report;
        expect(r.code, r.stderr).toBe(4);
        expect(report.exitCode).toBe(4);
        expect(report.findings.find((f) => f.code === 'schema.column_missing')?.message).toMatch(/features_enabled/);
        const locked = report.findings.filter((f) => f.code === 'verify.locked');
        expect(locked.map((f) => f.message.split(':')[0])).toEqual(['ledgers not read']);
        expect(locked[0]!.message).toContain(`held by server process ${pid} `);
        expect(locked[0]!.hint).toContain(`pg_terminate_backend(${pid})`);
      },
    );
  });

  it(
    'verify.locked-schema: a table the catalog read locks is left out; ' +
      'the other tables are compared, a schema error still found',
    async () => {
      await asRelease(db(), 'v2.3');
      await withClientAt(db().url, async (c) => {
        await c.query('alter table users drop column name');
      });
      await holding(db().url, 'admin console', ['lock table roles in access exclusive mode'], async ({ pid, user }) => {
        const c = failureCase('verify.locked-schema');
        const r = await runCase(c, { url: db().url, pid, user });
        // The error found in what was read comes first (DESIGN's order: 4 before 5).
        expectCase(r, { ...c, exit: 4 }, r.vars);
        const report = r.json() as Report;
        expect(report.findings.find((f) => f.code === 'schema.column_missing')?.message).toMatch(/users\.name/);
        // roles is not said to be missing, nor anything of it different.
        expect(report.findings.filter((f) => f.code.startsWith('schema.') && /\broles\b/.test(f.message))).toEqual([]);
        const locked = report.findings.filter((f) => f.code === 'verify.locked');
        expect(locked.map((f) => f.message.split(':')[0])).toEqual([
          'schema not read for table public.roles',
          'seed data not read',
        ]);
        for (const f of locked) expect(f.message).toContain(`held by server process ${pid} `);
        expect(codes(report).filter((x) => x.startsWith('ledger.release') || x.startsWith('seed.'))).toEqual([]);
      });
    },
  );

  it('verify.locked-schema, with nothing else wrong: exit 5', async () => {
    await asRelease(db(), 'v2.3');
    const before = await dbState(db().url);
    await holding(db().url, 'admin console', ['lock table roles in access exclusive mode'], async ({ pid, user }) => {
      const c = failureCase('verify.locked-schema');
      const r = await runCase(c, { url: db().url, pid, user });
      expectCase(r, c, r.vars);
      const human = await runCase({ ...c, json: false }, r.vars);
      expect(human.stdout).toContain('schema: partly read (locked)');
      expect(human.stdout).toMatch(/; the report is incomplete: schema partly read, seed data not read \(locked\)$/m);
    });
    await expectUnchanged(db().url, before);
  });

  it('a lock on an index of a table verify reads (REINDEX in an open transaction) is named the same way', async () => {
    await asRelease(db(), 'v2.3');
    const index = await withClientAt(
      db().url,
      async (c) =>
        (
          await c.query(
            `select indexrelid::regclass::text as i from pg_index ` +
              `where indrelid = 'users'::regclass order by 1 limit 1`,
          )
        ).rows[0].i as string,
    );
    await holding(db().url, 'pulse-api maintenance', [`reindex index ${index}`], async ({ pid }) => {
      // Only the index is locked exclusively; the table itself is readable.
      const r = await runCase(failureCase('verify.locked'), { url: db().url });
      const report = r.json() as Report;
      expect(r.code, r.stderr).toBe(5);
      const locked = report.findings.filter((f) => f.code === 'verify.locked');
      expect(locked).toHaveLength(1);
      expect(locked[0]!.message).toContain(
        `seed data not read: verification waited 5 s for a lock on ${index} held by server process ${pid} `,
      );
      expect(codes(report)).toContain('ledger.release');
    });
  });

  it('verify.locked-queued: queued behind an ALTER TABLE that waits for a reader, both named', async () => {
    await asRelease(db(), 'v2.3');
    const before = await dbState(db().url);
    await holding(db().url, 'report', ['select count(*) from organizations'], async ({ pid: reader, user }) => {
      const alter = await connectTo(db().url, 'migrator');
      const alterPid = (await alter.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      await alter.query('begin');
      const waiting = alter.query('alter table organizations add column note text').catch((err: unknown) => err);
      try {
        // The ALTER is queued once pg_locks shows its request not granted.
        await expect
          .poll(
            async () =>
              withClientAt(
                db().url,
                async (c) =>
                  (await c.query(`select count(*)::int as n from pg_locks where pid = $1 and not granted`, [alterPid]))
                    .rows[0].n,
              ),
            { timeout: 10_000 },
          )
          .toBe(1);
        const c = failureCase('verify.locked-queued');
        const r = await runCase(c, { url: db().url, reader, alter: alterPid, user });
        expectCase(r, c, r.vars);
      } finally {
        // The ALTER still waits: cancelled from another session, so that its own can roll back.
        await withClientAt(db().url, (a) => a.query('select pg_cancel_backend($1)', [alterPid]));
        await waiting;
        await alter.query('rollback').catch(() => {});
        await alter.end();
      }
    });
    await expectUnchanged(db().url, before);
  });

  it(
    "a holder's literals never reach the report, and an upkit " +
      'run holding the lock is waited for, never offered to be ended',
    async () => {
      await asRelease(db(), 'v2.3');
      const secret = 'tok-4f1c9a77e2';
      await holding(
        db().url,
        'pulse-api',
        [
          'lock table organizations in access exclusive mode',
          `select '${secret}' as token, $body$${secret}$body$ as again, E'x\\'${secret}' as escaped`,
        ],
        async ({ pid }) => {
          const r = await runUpkit('verify/index.ts', ['--json'], { env: { DATABASE_URL: db().url } });
          expect(r.code, r.stderr).toBe(5);
          expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
          const locked = (r.json() as Report).findings.find((f) => f.code === 'verify.locked')!;
          expect(locked.message).toContain(`server process ${pid} `);
          expect(locked.message).toContain(`last query: select '…' as token, '…' as again, '…' as escaped`);
          expect(locked.hint).toContain(`SELECT pg_terminate_backend(${pid});`);
        },
      );
      await holding(
        db().url,
        'upkit upgrade migrations',
        ['lock table organizations in access exclusive mode'],
        async ({ pid }) => {
          const r = await runUpkit('verify/index.ts', ['--json'], { env: { DATABASE_URL: db().url } });
          expect(r.code, r.stderr).toBe(5);
          const locked = (r.json() as Report).findings.find((f) => f.code === 'verify.locked')!;
          expect(locked.message).toContain(`server process ${pid} `);
          expect(locked.hint).not.toContain('pg_terminate_backend');
          expect(locked.hint).toBe(
            'an upkit run is working on this database (npx zx scripts/status.ts shows it): ' +
              'wait for it to finish, then run: npx zx verify/index.ts',
          );
        },
      );
    },
  );
});
