// verify as support staff run it: a fresh install at the latest release is clean; each kind
// of damage, injected alone, is named with its own code, the object and a next step.
import { cpSync, mkdtempSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { verifyDatabase } from '../../verify/engine.ts';
import { pulseProfile } from '../../profiles/pulse.ts';
import { runUpkit, type RunResult } from '../support/cli.ts';
import { runInProcess } from '../support/inProcess.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR, LEGACY_DIR } from '../support/releases.ts';
import { DURATION } from '../support/logLines.ts';

type Report = Record<string, unknown> & {
  findings: Array<{ code: string; severity: string; message: string; hint: string | null }>;
};

describe('verify', () => {
  const db = useFreshDatabase();

  const withDb = <T>(fn: (c: pg.Client) => Promise<T>) => withClientAt(db().url, fn);

  /** A v2.3 install with `damage` done to it, verified as support staff would. */
  async function verifyAfter(
    damage: string | ((c: pg.Client) => Promise<unknown>),
    args: string[] = [],
  ): Promise<{ r: RunResult; report: Report }> {
    await asRelease(db(), 'v2.3');
    await withDb(async (c) => {
      if (typeof damage === 'string') await c.query(damage);
      else await damage(c);
    });
    const r = await runUpkit('verify/index.ts', ['--json', ...args], { env: { DATABASE_URL: db().url } });
    return { r, report: r.json() };
  }

  it('finds nothing wrong with a fresh install at the latest release, and exits 0', async () => {
    const { r, report } = await verifyAfter(async () => {});
    expect(r.code, r.stderr).toBe(0);
    expect(report).toMatchObject({
      command: 'verify',
      status: 'ok',
      exitCode: 0,
      release: { from: 'v2.3', to: 'v2.3' },
    });
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(report.findings.filter((f) => f.code.startsWith('schema.'))).toEqual([]);
    expect((report.phases as Array<{ name: string; status: string }>).map((p) => [p.name, p.status])).toEqual([
      ['schema', 'ok'],
      ['ledgers', 'ok'],
      ['seed data', 'ok'],
      ['runtime', 'skipped'],
    ]);
    expect(report.findings.map((f) => f.code)).toEqual(
      expect.arrayContaining(['ledger.release', 'seed.counts', 'seed.flag_disabled', 'runtime.not_configured']),
    );
    // Only the snapshot's schemas count: drizzle's ledger table is not one of Pulse's tables.
    expect(r.stderr).toMatch(
      new RegExp(String.raw`✔ schema {2}13 tables against 0003_integration_status_enum \(${DURATION}\)`),
    );
    expect(r.stderr).toMatch(
      new RegExp(
        String.raw`^verify: 0 errors, 0 warnings \(schema \d+\.\d\d s, ledgers ` +
          String.raw`\d+\.\d\d s, seed data \d+\.\d\d s, runtime not checked\)$`,
        'm',
      ),
    );
  });

  it('compares a legacy v1.4 install clean against the 0000 snapshot', async () => {
    await asRelease(db(), 'v1.4');
    await withDb(async (c) => {
      const result = await verifyDatabase(c, {
        drizzleDir: DRIZZLE_DIR,
        legacyDir: LEGACY_DIR,
        profile: pulseProfile(),
        snapshotEntry: 0,
      });
      expect(result.findings.filter((f) => f.area === 'schema')).toEqual([]);
      expect(result.snapshot.entry).toBe('0000_init');
      expect(result.release.detected).toBe('v1.4');
      // Nothing records 0000 yet: the baseline is the upgrade's job.
      expect(result.ledger).toEqual({ applied: [], pending: ['0000_init'] });
    });
  });

  const cases: Array<[string, string | ((c: pg.Client) => Promise<unknown>), string, RegExp, RegExp]> = [
    [
      'a dropped column',
      'alter table api_keys drop column last_used_at',
      'schema.column_missing',
      /api_keys\.last_used_at/,
      /ALTER TABLE api_keys ADD COLUMN last_used_at timestamp with time zone/,
    ],
    [
      'a changed column type',
      'alter table organizations alter column name type text',
      'schema.column_type',
      /organizations\.name is text, expected character varying\(255\)/,
      /SET DATA TYPE character varying\(255\)/,
    ],
    [
      'a dropped NOT NULL',
      'alter table users alter column password_hash drop not null',
      'schema.column_nullability',
      /users\.password_hash allows NULL/,
      /ALTER COLUMN password_hash SET NOT NULL/,
    ],
    [
      'a changed default',
      "alter table users alter column role set default 'viewer'",
      'schema.column_default',
      /users\.role has default 'viewer'::character varying, expected 'member'/,
      /SET DEFAULT 'member'/,
    ],
    [
      'a dropped index',
      'drop index configurations_created_by_idx',
      'schema.index_missing',
      /configurations_created_by_idx on configurations/,
      /CREATE INDEX CONCURRENTLY configurations_created_by_idx ON configurations \(created_by\)/,
    ],
    [
      'an INVALID index left by a failed concurrent build',
      async (c) => {
        await c.query('drop index api_keys_key_hash_idx');
        await c.query(
          `update api_keys set key_hash = 'same' where id in (select id from api_keys order by id limit 2)`,
        );
        await expect(
          c.query('create unique index concurrently api_keys_key_hash_idx on api_keys (key_hash)'),
        ).rejects.toThrow(/could not create unique index/);
      },
      'schema.index_invalid',
      /index api_keys_key_hash_idx on api_keys is INVALID/,
      /REINDEX INDEX CONCURRENTLY api_keys_key_hash_idx/,
    ],
    [
      'a dropped foreign key',
      'alter table api_keys drop constraint api_keys_created_by_users_id_fk',
      'schema.fk_missing',
      /foreign key api_keys_created_by_users_id_fk on api_keys/,
      new RegExp(
        'ADD CONSTRAINT api_keys_created_by_users_id_fk FOREIGN KEY ' +
          String.raw`\(created_by\) REFERENCES users\(id\) ON DELETE SET NULL`,
      ),
    ],
    [
      'an enum without one of its values',
      `alter table aws_integrations alter column status drop default;
       alter type integration_status rename to integration_status_old;
       create type integration_status as enum ('active', 'error');
       alter table aws_integrations alter column status type integration_status
         using (case when status::text = 'paused' then 'error' else status::text end)::integration_status;
       alter table aws_integrations alter column status set default 'active';
       drop type integration_status_old;`,
      'schema.enum_values',
      new RegExp(
        String.raw`enum integration_status has \('active', 'error'\), expected ` +
          String.raw`\('active', 'paused', 'error'\): missing \('paused'\)`,
      ),
      /ALTER TYPE integration_status ADD VALUE 'paused' AFTER 'active'/,
    ],
    [
      'a missing table',
      'drop table discovery_code_generations',
      'schema.table_missing',
      /table discovery_code_generations is missing/,
      /restore it from a backup/,
    ],
    [
      'a flag missing on one organization',
      `update organizations set features_enabled = features_enabled - 'apiKeys' where slug = 'org-2'`,
      'seed.flag_missing',
      /organization org-2 lacks feature flag apiKeys$/,
      /npx zx upgrade\.ts/,
    ],
    [
      'a missing permission',
      `delete from permissions where resource = 'discovery' and action = 'execute'`,
      'seed.permission_missing',
      /permission discovery:execute is missing/,
      /npx zx upgrade\.ts/,
    ],
    [
      'a permission taken from admin',
      `delete from role_permissions using roles r, permissions p
        where role_permissions.role_id = r.id and role_permissions.permission_id = p.id
          and r.name = 'admin' and r.organization_id is null and p.resource = 'users' and p.action = 'delete'`,
      'seed.admin_grant_missing',
      /system role admin lacks permission users:delete/,
      /npx zx upgrade\.ts/,
    ],
    [
      'an applied migration whose ledger hash differs',
      async (c) => {
        const m = readMigrations(DRIZZLE_DIR)[1]!;
        await c.query(`update drizzle.__drizzle_migrations set hash = md5(hash) || md5(hash) where created_at = $1`, [
          m.when,
        ]);
      },
      'ledger.hash_mismatch',
      /migration 0001_api_keys was edited after it was applied/,
      /git diff -- .*0001_api_keys\.sql/,
    ],
    [
      'a pending migration',
      'delete from drizzle.__drizzle_migrations where id = (select max(id) from drizzle.__drizzle_migrations)',
      'ledger.pending',
      /migration 0003_integration_status_enum is pending/,
      /npx zx upgrade\.ts --dry-run/,
    ],
  ];

  it.each(cases)(
    'reports %s with its own code, the object and a hint, and exits 4',
    async (_name, damage, code, message, hint) => {
      const { r, report } = await verifyAfter(damage);
      expect(r.code, r.stderr).toBe(4);
      const hits = report.findings.filter((f) => f.code === code);
      expect(hits, JSON.stringify(report.findings, null, 2)).toHaveLength(1);
      expect(hits[0]).toMatchObject({
        severity: 'error',
        message: expect.stringMatching(message),
        hint: expect.stringMatching(hint),
      });
      // The human lines name it too, with its hint on the same line.
      expect(r.stderr).toContain(`✖ ${code}  ${hits[0]!.message}  → ${hits[0]!.hint}`);
    },
  );

  it('reports a migration file edited after it was applied, in a copied drizzle folder', async () => {
    await asRelease(db(), 'v2.3');
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'upkit-verify-')), 'drizzle');
    cpSync(DRIZZLE_DIR, dir, { recursive: true });
    appendFileSync(path.join(dir, '0001_api_keys.sql'), '\n-- a hand edit\n');
    const r = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], { env: { DATABASE_URL: db().url } });
    expect(r.code, r.stderr).toBe(4);
    const report = r.json();
    expect(report.findings.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual(['ledger.hash_mismatch']);
    expect(report.findings.find((f) => f.code === 'ledger.hash_mismatch')!.message).toMatch(
      new RegExp(
        String.raw`^migration 0001_api_keys was edited after it was applied: 0001_api_keys\.sql has ` +
          String.raw`sha256 [0-9a-f]{12}…, drizzle\.__drizzle_migrations row 2 holds [0-9a-f]{12}…$`,
      ),
    );
    // Another app's folder: no Pulse seed data, and nothing said about seed data.
    expect(report.findings.some((f) => f.code.startsWith('seed.'))).toBe(false);
    expect(r.stderr).not.toMatch(/seed/);
  });

  it.each([
    [
      'column',
      'alter table users add column nickname text',
      'schema.extra_column',
      /column users\.nickname \(text\) is not in the snapshot/,
    ],
    [
      'index',
      'create index users_name_idx on users (name)',
      'schema.extra_index',
      /index users_name_idx on users \(btree \(name\)\) is not in the snapshot/,
    ],
  ])('reports a hand-added %s as a warning only, and exits 0', async (_what, sql, code, message) => {
    const { r, report } = await verifyAfter(sql);
    expect(r.code, r.stderr).toBe(0);
    expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([
      {
        severity: 'warning',
        code,
        message: expect.stringMatching(message),
        hint: expect.stringContaining('upkit keeps objects'),
      },
    ]);
  });

  it(
    'says every migration is pending, with the upgrade ' + 'as the hint, on a database with no drizzle ledger',
    async () => {
      const { r, report } = await verifyAfter('drop schema drizzle cascade');
      expect(r.code).toBe(4);
      const pending = report.findings.filter((f) => f.code === 'ledger.pending');
      expect(pending.map((f) => f.message)).toEqual(
        readMigrations(DRIZZLE_DIR).map(
          (m) => `migration ${m.tag} is pending (drizzle.__drizzle_migrations does not exist)`,
        ),
      );
      for (const f of pending) expect(f.hint).toBe('run: npx zx upgrade.ts --dry-run');
    },
  );

  it('refuses --json with --markdown, and a drizzle folder without a journal, with exit 2', async () => {
    // Usage and configuration errors: run in process (test/support/inProcess.ts).
    const both = await runInProcess('verify/index.ts', ['--json', '--markdown'], { env: { DATABASE_URL: db().url } });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('✖ --json and --markdown cannot be used together');
    const empty = mkdtempSync(path.join(tmpdir(), 'upkit-verify-empty-'));
    const r = await runInProcess('verify/index.ts', ['--drizzle-dir', empty], { env: { DATABASE_URL: db().url } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`✖ drizzle folder ${empty}: meta/_journal.json is missing`);
  });

  it('exits 3 when the database cannot be reached', async () => {
    const r = await runUpkit('verify/index.ts', [], {
      env: { DATABASE_URL: `postgres://pulse:pw12345@127.0.0.1:1/pulse` },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot connect to PostgreSQL at 127.0.0.1:1: connection refused');
  });
});
