// verify never writes: it works for a role that may only read, leaves the schema and every
// row as they were, and runs its queries in a transaction PostgreSQL itself keeps read-only.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { withTransaction } from '../../lib/db.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { verifyDatabase } from '../../verify/engine.ts';
import { pulseProfile } from '../../profiles/pulse.ts';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR, LEGACY_DIR } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

// Roles belong to the whole server, which test files share: names of their own avoid clashes.
const READER = `upkit_verify_reader_${process.pid}`;
const READER_PASSWORD = 'reader-pw-1234';

describe('verify is read-only', () => {
  const db = useFreshDatabase();

  const withDb = <T>(fn: (c: pg.Client) => Promise<T>, url = db().url): Promise<T> => withClientAt(url, fn);

  function readerUrl(): string {
    const u = new URL(db().url);
    u.username = READER;
    u.password = READER_PASSWORD;
    return u.toString();
  }

  it('works for a role that can only read, and changes no schema object and no row', async () => {
    await asRelease(db(), 'v2.3');
    await withDb(async (c) => {
      // What upkit's legacy ledger looks like, so that it is read too.
      await c.query(
        `create schema upkit;
        create table upkit.legacy_migrations (file text primary key, ` +
          `checksum text not null, applied_at timestamptz not null default now(),
                                              duration_ms int not null default 0, method text not null, run_id text)`,
      );
    });
    await withAdminClient(async (a) => {
      await a.query(`drop role if exists ${READER}`);
      await a.query(`create role ${READER} login password '${READER_PASSWORD}' nocreatedb nocreaterole`);
    });
    try {
      await withDb(async (c) => {
        await c.query(
          `revoke create on schema public from public; revoke temporary ` +
            `on database ${c.escapeIdentifier(db().database)} from public`,
        );
        await c.query(`grant connect on database ${c.escapeIdentifier(db().database)} to ${READER}`);
        for (const schema of ['public', 'drizzle', 'upkit']) {
          await c.query(
            `grant usage on schema ${schema} to ${READER}; grant select on all tables in schema ${schema} to ${READER}`,
          );
        }
      });
      const canCreate = await withDb(
        (c) =>
          c.query<{ ok: boolean }>(
            `select has_schema_privilege('public', 'CREATE') or has_database_privilege(current_database(), ` +
              `'CREATE') or has_database_privilege(current_database(), 'TEMP') as ok`,
          ),
        readerUrl(),
      );
      expect(canCreate.rows[0]!.ok).toBe(false);

      const before = await withDb(async (c) => ({
        fingerprint: await schemaFingerprint(c),
        rows: await rowSnapshot(c),
        drizzle: await rowSnapshot(c, 'drizzle'),
      }));
      const r = await runUpkit('verify/index.ts', ['--json'], { env: { DATABASE_URL: readerUrl() } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().findings.filter((f) => f.severity !== 'info')).toEqual([]);
      expect(r.json().findings.map((f) => f.code)).toContain('ledger.legacy');
      const after = await withDb(async (c) => ({
        fingerprint: await schemaFingerprint(c),
        rows: await rowSnapshot(c),
        drizzle: await rowSnapshot(c, 'drizzle'),
      }));
      expect(after).toEqual(before);
    } finally {
      await withAdminClient((a) => a.query(`drop owned by ${READER} cascade`), db().database).catch(() => {});
      await withAdminClient((a) => a.query(`drop role if exists ${READER}`));
    }
  });

  it('says which table a role cannot read, with the GRANT to run, instead of failing', async () => {
    await asRelease(db(), 'v2.3');
    await withAdminClient(async (a) => {
      await a.query(`drop role if exists ${READER}`);
      await a.query(`create role ${READER} login password '${READER_PASSWORD}'`);
    });
    try {
      await withDb((c) =>
        c.query(`grant usage on schema public to ${READER}; grant select on all tables in schema public to ${READER}`),
      );
      const r = await runUpkit('verify/index.ts', ['--json'], { env: { DATABASE_URL: readerUrl() } });
      expect(r.code, r.stderr).toBe(4);
      expect(r.json().findings.filter((f) => f.severity === 'error')).toEqual([
        {
          severity: 'error',
          code: 'verify.privilege',
          message: `role ${READER} cannot read drizzle.__drizzle_migrations, so it was not checked`,
          hint:
            `run as an administrator: GRANT USAGE ON SCHEMA "drizzle" TO "${READER}"; ` +
            `GRANT SELECT ON drizzle.__drizzle_migrations TO "${READER}";`,
        },
      ]);
    } finally {
      await withAdminClient((a) => a.query(`drop owned by ${READER} cascade`), db().database).catch(() => {});
      await withAdminClient((a) => a.query(`drop role if exists ${READER}`));
    }
  });

  it('sends only SELECTs, which a READ ONLY transaction accepts', async () => {
    await asRelease(db(), 'v2.3');
    await withDb(async (c) => {
      const sent: string[] = [];
      const recording = {
        query: (text: string, values?: unknown[]) => {
          sent.push(text);
          return c.query(text, values);
        },
      } as unknown as pg.Client;
      await withTransaction(
        c,
        async () => {
          const result = await verifyDatabase(recording, {
            drizzleDir: DRIZZLE_DIR,
            legacyDir: LEGACY_DIR,
            profile: pulseProfile(),
          });
          expect(result.findings.filter((f) => f.severity === 'error')).toEqual([]);
          // PostgreSQL refuses any write in this transaction: verify ran inside one that cannot change anything.
          await expect(c.query('create table verify_was_here (id int)')).rejects.toMatchObject({ code: '25006' });
        },
        { readOnly: true },
      );
      // A fixed number of queries, every one a read.
      expect(sent.length).toBeLessThanOrEqual(8);
      for (const q of sent) expect(q.trim()).toMatch(/^(select|with)\b/i);
    });
  });
});
