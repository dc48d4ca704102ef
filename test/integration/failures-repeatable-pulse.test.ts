// Pulse's first repeatable file (repeatable/support_role.sql): the grants of the read-only
// support role that runs verify (docs/commands/verify.md). It waits, changing nothing, while the role
// does not exist; once an administrator creates the role, the next upgrade applies it, and
// verify runs as that role. Roles are the cluster's: the test that creates one uses a copy of
// the file naming a role of its own (UPKIT_REPEATABLE_DIR), so that other tests' Pulse
// installs never meet it.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../failures/check.ts';
import { ROOT, runUpkit } from '../support/cli.ts';
import { backupArgs, useFreshDatabase, withClientAt } from '../support/database.ts';

const FILE = path.join(ROOT, 'repeatable', 'support_role.sql');
type Report = { applied: Array<{ kind: string; name: string }>; findings: Array<{ code: string; message: string }> };

describe("Pulse's support role grants", () => {
  const db = useFreshDatabase();

  it(
    'wait while pulse_support does not exist: install applies nothing ' +
      'of them and records nothing; status says so; verify is clean',
    async () => {
      await withClientAt(db().url, async (c) =>
        expect(
          (await c.query(`select count(*)::int as n from pg_roles where rolname = 'pulse_support'`)).rows[0].n,
        ).toBe(0),
      );
      const env = { DATABASE_URL: db().url };
      const r = await runUpkit('install.ts', ['--yes', '--no-containers', '--json', ...backupArgs()], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json<Report>().applied.filter((x) => x.kind === 'repeatable')).toEqual([]);
      await withClientAt(db().url, async (c) =>
        expect((await c.query('select count(*)::int as n from upkit.repeatable')).rows[0].n).toBe(0),
      );
      const s = await runUpkit('scripts/status.ts', ['--exit-code'], { env });
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toMatch(/^ {2}… support_role\.sql: waiting for role pulse_support \(not created\)$/m);
      const v = await runUpkit('verify/index.ts', [], { env });
      expect(v.code, v.stdout + v.stderr).toBe(0);
    },
  );

  it('are applied once the role exists, after the seed data; ' +
    'verify then runs as that role, and a revoked SELECT is reported and put back', {
    timeout: 120_000,
  }, async () => {
    const role = `support_${db().database}`.slice(0, 63);
    const dir = tempDir('upkit-repeatable-pulse-');
    writeFileSync(path.join(dir, 'support_role.sql'), readFileSync(FILE, 'utf8').replaceAll('pulse_support', role));
    const env = { DATABASE_URL: db().url, UPKIT_REPEATABLE_DIR: dir };
    const install = await runUpkit('install.ts', ['--yes', '--no-containers', '--json', ...backupArgs()], { env });
    expect(install.code, install.stderr).toBe(0);
    expect(install.json<Report>().applied.filter((x) => x.kind === 'repeatable')).toEqual([]);

    await withClientAt(db().url, (c) => c.query(`create role ${role} login password 'support-pw'`));
    const up = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json'], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(up.json<Report>().applied.map((x) => `${x.kind} ${x.name}`)).toEqual(['repeatable support_role.sql']);

    const asSupport = new URL(db().url);
    asSupport.username = role;
    asSupport.password = 'support-pw';
    const v = await runUpkit('verify/index.ts', ['--json'], {
      env: { DATABASE_URL: asSupport.toString(), UPKIT_REPEATABLE_DIR: dir },
    });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    await withClientAt(asSupport.toString(), async (c) => {
      expect((await c.query('select count(*)::int as n from upkit.repeatable')).rows[0].n).toBe(1);
      // Read-only: it reads, it may not write.
      await expect(c.query(`delete from upkit.repeatable`)).rejects.toThrow(/permission denied/);
    });

    await withClientAt(db().url, (c) => c.query(`revoke select on public.organizations from ${role}`));
    const broken = await runUpkit('verify/index.ts', ['--json'], { env });
    expect(broken.code, broken.stderr).toBe(4);
    expect(
      broken
        .json<Report>()
        .findings.filter((f) => f.code === 'repeatable.object_missing')
        .map((f) => f.message),
    ).toEqual([
      expect.stringMatching(
        new RegExp(
          `^repeatable/support_role\\.sql defines SELECT on every table ` +
            `in schema public to ${role}, which the database no longer has`,
        ),
      ),
    ]);
    const again = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<Report>().applied.map((x) => x.name)).toEqual(['support_role.sql']);
    expect((await runUpkit('verify/index.ts', [], { env })).code).toBe(0);
  });

  it('where the role exists before the install, are applied last: after the migrations and the seed data', async () => {
    const role = `support_${db().database}`.slice(0, 63);
    const dir = tempDir('upkit-repeatable-pulse-');
    writeFileSync(path.join(dir, 'support_role.sql'), readFileSync(FILE, 'utf8').replaceAll('pulse_support', role));
    await withClientAt(db().url, (c) => c.query(`create role ${role}`));
    const install = await runUpkit('install.ts', ['--yes', '--no-containers', '--json', ...backupArgs()], {
      env: { DATABASE_URL: db().url, UPKIT_REPEATABLE_DIR: dir },
    });
    expect(install.code, install.stderr).toBe(0);
    expect(
      install
        .json<Report>()
        .applied.map((x) => x.kind)
        .slice(-2),
    ).toEqual(['seed', 'repeatable']);
    await withClientAt(db().url, async (c) =>
      expect(
        (await c.query(`select has_table_privilege($1, 'public.organizations', 'SELECT') as ok`, [role])).rows[0].ok,
      ).toBe(true),
    );
  });
});
