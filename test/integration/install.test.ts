import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../../lib/install/admin.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, serverInfo, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

function urlFor(database: string, user?: string, password?: string): string {
  const u = new URL(serverInfo().adminUrl);
  u.pathname = `/${database}`;
  if (user) u.username = encodeURIComponent(user);
  if (password) u.password = encodeURIComponent(password);
  return u.toString();
}

const withDb = withClientAt;

const dir = () => mkdtempSync(path.join(tmpdir(), 'upkit-install-'));

describe('install', () => {
  const db = useFreshDatabase();

  it(
    'creates a missing database and installs the latest release; ' + 'a second run refuses and changes nothing',
    async () => {
      const name = `upkit_inst_${process.pid}_${Date.now() % 100000}`;
      const cwd = dir();
      try {
        const env = { DATABASE_URL: urlFor(name) };
        const r = await runUpkit('install.ts', [...backupArgs(), '--yes', '--no-containers', '--json'], { env, cwd });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toContain(`✔ database ${name}  created`);
        expect(r.json().findings.filter((f) => f.severity === 'error')).toEqual([]);
        await asRelease(db(), 'v2.3', { data: false });
        const fresh = await withDb(db().url, async (c) => {
          return schemaFingerprint(c);
        });
        await withDb(urlFor(name), async (c) => {
          expect(await schemaFingerprint(c)).toEqual(fresh);
          const ledger = (await c.query('select * from drizzle.__drizzle_migrations order by id')).rows;
          expect(ledger).toHaveLength(4);
          await migrate(drizzle(c), { migrationsFolder: DRIZZLE_DIR });
          expect((await c.query('select * from drizzle.__drizzle_migrations order by id')).rows).toEqual(ledger);
        });
        const before = await withDb(urlFor(name), async (c) => ({
          fp: await schemaFingerprint(c),
          rows: await rowSnapshot(c),
          upkit: await rowSnapshot(c, 'upkit'),
        }));
        const again = await runUpkit('install.ts', [...backupArgs(), '--yes', '--no-containers'], { env, cwd });
        expect(again.code).toBe(3);
        expect(again.stderr).toContain(`${name} already holds Pulse v2.3; install never changes an existing database`);
        expect(again.stderr).toContain('npx zx upgrade.ts');
        await withDb(urlFor(name), async (c) => {
          expect(await schemaFingerprint(c)).toEqual(before.fp);
          expect(await rowSnapshot(c)).toEqual(before.rows);
          expect(await rowSnapshot(c, 'upkit')).toEqual(before.upkit);
        });
      } finally {
        await withAdminClient((c) => c.query(`drop database if exists ${name} with (force)`));
      }
    },
  );

  it('refuses a legacy install, naming its release', async () => {
    await asRelease(db(), 'v1.2');
    const r = await runUpkit('install.ts', [...backupArgs(), '--yes', '--no-containers'], {
      env: { DATABASE_URL: db().url },
      cwd: dir(),
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${db().database} already holds Pulse v1.2`);
  });

  it(
    'writes a 0600 .env with strong secrets, ' + 'keeps every value of an existing one, and never prints a secret',
    async () => {
      const cwd = dir();
      const r = await runUpkit('install.ts', [...backupArgs(), '--yes', '--no-containers'], {
        env: { DATABASE_URL: db().url },
        cwd,
      });
      expect(r.code, r.stderr).toBe(0);
      const file = path.join(cwd, '.env');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const text = readFileSync(file, 'utf8');
      const secrets = ['JWT_SECRET', 'SESSION_SECRET', 'ENCRYPTION_KEY'].map(
        (k) => new RegExp(`^${k}=(.+)$`, 'm').exec(text)![1]!,
      );
      expect(secrets[0]!.length).toBeGreaterThanOrEqual(64);
      expect(secrets[2]).toMatch(/^[0-9a-f]{64}$/);
      for (const s of secrets) for (const out of [r.stdout, r.stderr, r.logs()]) expect(out).not.toContain(s);

      const cwd2 = dir();
      writeFileSync(path.join(cwd2, '.env'), 'JWT_SECRET=keep-this-one-please\nCUSTOM=1\n', { mode: 0o600 });
      await withDb(db().url, (c) =>
        c.query(
          'drop schema public cascade; create schema public; ' +
            'drop schema if exists drizzle cascade; drop schema if exists upkit cascade',
        ),
      );
      const r2 = await runUpkit('install.ts', [...backupArgs(), '--yes', '--no-containers'], {
        env: { DATABASE_URL: db().url },
        cwd: cwd2,
      });
      expect(r2.code, r2.stderr).toBe(0);
      expect(r2.stderr).toContain('added to');
      expect(r2.stderr).toContain('SESSION_SECRET, ENCRYPTION_KEY (existing values kept)');
      const text2 = readFileSync(path.join(cwd2, '.env'), 'utf8');
      expect(text2.startsWith('JWT_SECRET=keep-this-one-please\nCUSTOM=1\n')).toBe(true);
      expect(text2.match(/^JWT_SECRET=/gm)).toHaveLength(1);
    },
  );

  it(
    'leaves an existing .env byte for byte as it was when ' + 'the plan refuses (an accepted tag that accepts nothing)',
    async () => {
      const cwd = dir();
      const original = 'CUSTOM=1\n# kept\n';
      writeFileSync(path.join(cwd, '.env'), original, { mode: 0o600 });
      const r = await runUpkit(
        'install.ts',
        [...backupArgs(), '--yes', '--no-containers', '--allow-destructive=0002_audit_logs'],
        { env: { DATABASE_URL: db().url }, cwd },
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/✖ .*0002_audit_logs/);
      expect(readFileSync(path.join(cwd, '.env'), 'utf8')).toBe(original);
      await withDb(db().url, async (c) =>
        expect((await c.query(`select count(*)::int as n from pg_tables where schemaname = 'public'`)).rows[0].n).toBe(
          0,
        ),
      );
    },
  );

  it('creates the first organization and admin with a scrypt hash of the password', async () => {
    const cwd = dir();
    const password = 'Correct-Horse-Battery-Staple-9';
    writeFileSync(path.join(cwd, 'pw'), `${password}\n`, { mode: 0o600 });
    const r = await runUpkit(
      'install.ts',
      [
        ...backupArgs(),
        '--yes',
        '--no-containers',
        '--admin-email',
        'Ops@Example.com',
        '--admin-password-file',
        'pw',
        '--organization',
        'Acme Ops',
      ],
      { env: { DATABASE_URL: db().url }, cwd },
    );
    expect(r.code, r.stderr).toBe(0);
    for (const out of [r.stdout, r.stderr, r.logs()]) expect(out).not.toContain(password);
    await withDb(db().url, async (c) => {
      const { rows } = await c.query(`select u.email, u.password_hash, o.slug, o.features_enabled, r.name as role
                                        from users u join organizations o on o.id = u.organization_id
                                        join user_roles ur on ur.user_id = u.id join roles r on r.id = ur.role_id`);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ email: 'ops@example.com', slug: 'acme-ops', role: 'admin' });
      expect(rows[0].password_hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      expect(verifyPassword(password, rows[0].password_hash)).toBe(true);
      expect(verifyPassword('wrong', rows[0].password_hash)).toBe(false);
      expect(Object.keys(rows[0].features_enabled).sort()).toEqual([
        'apiKeys',
        'auditLogs',
        'awsIntegrations',
        'configurations',
        'discovery',
      ]);
    });
  });

  it('says plainly when the role may not create the missing database', async () => {
    const role = `upkit_nocreate_${process.pid}`;
    await withAdminClient((c) => c.query(`create role ${role} login password 'nocreate-pw'`));
    try {
      const r = await runUpkit('install.ts', [...backupArgs(), '--yes', '--no-containers'], {
        env: { DATABASE_URL: urlFor(`upkit_never_${process.pid}`, role, 'nocreate-pw') },
        cwd: dir(),
      });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(
        `database "upkit_never_${process.pid}" does not exist ` +
          `and role "${role}" may not create databases (no CREATEDB)`,
      );
      expect(r.stderr).toContain(`CREATE DATABASE "upkit_never_${process.pid}" OWNER "${role}"`);
    } finally {
      await withAdminClient((c) => c.query(`drop role if exists ${role}`));
    }
  });
});
