// The schema upkit works in, where the upgrade must succeed: search_path named in the URL's
// options, a Unix-socket directory as the host (for node's client and for pg_dump), and
// sessions that a role's or database's search_path, a schema named like the role, or the
// caller's PGOPTIONS would otherwise send elsewhere. Everything lands in public.
import { afterEach, describe, expect, it } from 'vitest';
import {
  backupArgs,
  connectTo,
  useFreshDatabase,
  withAdminClient,
  withClientAt,
  type TestDatabase,
} from '../support/database.ts';
import { runUpkit } from '../support/cli.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { createdRoles, loginRole } from './schemaSupport.ts';

interface Report {
  exitCode: number;
  release: { from: string | null; to: string | null };
  backup: { path: string } | null;
}

/** Tables per schema, outside the system's, upkit's and drizzle's. */
async function tablesBySchema(url: string): Promise<Record<string, number>> {
  return withClientAt(url, async (c) => {
    const { rows } = await c.query<{ schema: string; n: number }>(
      `select n.nspname as schema, count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname not like 'pg\\_%' ` +
        `and n.nspname not in ('information_schema', 'upkit', 'drizzle')
        group by 1 order by 1`,
    );
    return Object.fromEntries(rows.map((r) => [r.schema, r.n]));
  });
}

async function upgrade(env: Record<string, string>): Promise<{ code: number | null; report: Report; stderr: string }> {
  const r = await runUpkit('upgrade.ts', [...backupArgs(), '--json', '--yes'], { env, timeoutMs: 120_000 });
  return { code: r.code, report: r.json<Report>(), stderr: r.stderr };
}

async function socketDir(): Promise<string | null> {
  const dirs = await withAdminClient((c) =>
    c.query<{ d: string }>("select current_setting('unix_socket_directories') as d"),
  );
  return dirs.rows[0]?.d.split(',')[0]?.trim() || null;
}

describe('upgrades in the right schema', () => {
  const db = useFreshDatabase();
  afterEach(async () => {
    await db().drop();
    await createdRoles.dropAll();
  });

  const v10 = async (url: string) => withClientAt(url, (c) => buildRelease(c, 'v1.0'));
  const reachedLatest = (r: { code: number | null; report: Report; stderr: string }) => {
    expect(r.code, r.stderr).toBe(0);
    expect(r.report.release).toEqual({ from: 'v1.0', to: 'v2.3' });
  };

  it('upgrades with search_path=public and another setting named in the options of DATABASE_URL', async () => {
    await asRelease(db(), 'v1.0');
    reachedLatest(
      await upgrade({
        DATABASE_URL: `${db().url}?options=${encodeURIComponent('-c search_path=public -c statement_timeout=0')}`,
      }),
    );
    expect(await tablesBySchema(db().url)).toEqual({ public: 13 });
  });

  it(
    'upgrades through a Unix-socket directory given as ?host=, ' +
      'backup included; DB_HOST takes one too, with DATABASE_SSL left to TCP',
    async (ctx) => {
      const dir = await socketDir();
      if (!dir) return ctx.skip();
      await asRelease(db(), 'v1.0');
      const d: TestDatabase = db();
      const url =
        `postgres://${encodeURIComponent(d.user)}:${encodeURIComponent(d.password)}` +
        `@/${d.database}?host=${encodeURIComponent(dir)}&port=${d.port}`;
      const r = await upgrade({ DATABASE_URL: url });
      reachedLatest(r);
      if (backupArgs().length === 0) expect(r.report.backup?.path).toBeTruthy();
      // DATABASE_SSL applies to TCP only, as libpq's sslmode: a socket carries no SSL.
      const status = await runUpkit('scripts/status.ts', ['--json'], {
        env: {
          DB_HOST: dir,
          DB_PORT: String(d.port),
          DB_USER: d.user,
          DB_PASSWORD: d.password,
          DB_NAME: d.database,
          DATABASE_SSL: 'require',
        },
      });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stderr).toContain(`${d.database}: v2.3, up to date`);
    },
  );

  it(
    "pins search_path although the role's search_path names " +
      "another schema, and the caller's PGOPTIONS another still",
    async () => {
      const role = await loginRole(db());
      await v10(role.url);
      await withClientAt(role.url, (c) => c.query('create schema app'));
      await withAdminClient((a) => a.query(`alter role ${a.escapeIdentifier(role.name)} set search_path = app`));
      reachedLatest(await upgrade({ DATABASE_URL: role.url, PGOPTIONS: '-c search_path=app' }));
      expect(await tablesBySchema(db().url)).toEqual({ public: 13 });
    },
  );

  it('upgrades a role whose own schema exists: "$user", public no longer sends the legacy files there', async () => {
    const role = await loginRole(db());
    await v10(role.url);
    const c = await connectTo(role.url);
    try {
      await c.query(`create schema ${c.escapeIdentifier(role.name)}`);
    } finally {
      await c.end();
    }
    reachedLatest(await upgrade({ DATABASE_URL: role.url }));
    expect(await tablesBySchema(db().url)).toEqual({ public: 13 });
    // A second run finds nothing to do (it used to fail on every rerun).
    const again = await upgrade({ DATABASE_URL: role.url });
    expect(again.code, again.stderr).toBe(0);
    expect(again.report.release).toEqual({ from: 'v2.3', to: 'v2.3' });
  });
});
