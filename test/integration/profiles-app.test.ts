// Another app's drizzle folder runs with the app profile (profiles/app.ts): its releases are
// its journal's tags, it has no seed data, no legacy era and no first admin, and nothing upkit
// says of it claims Pulse. The folder is a copy of Pulse's with one more entry, so any
// Pulse-only step (seed data, legacy files) would find its tables and show.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, useFreshDatabase, withClientAt } from '../support/database.ts';
import { drizzleFolderWith } from '../support/drizzleFolders.ts';
import { DRIZZLE_DIR } from '../support/releases.ts';

const temp = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

interface Report {
  status: string;
  release: { from: string | null; to: string | null };
  plan?: { profile: string; steps: Array<{ kind: string; tag?: string }> };
}

describe('a plain drizzle app (--drizzle-dir)', () => {
  const db = useFreshDatabase();

  it('is installed, shown and verified by its journal tags, with no seed data and nothing of Pulse', {
    timeout: 180_000,
  }, async () => {
    const last = readMigrations(DRIZZLE_DIR).at(-1)!;
    const dir = drizzleFolderWith({
      tag: '0004_notes',
      sql: 'CREATE TABLE "notes" ("id" integer PRIMARY KEY);',
      when: last.when + 1000,
    });
    const cwd = temp('upkit-app-install-');
    const env = { DATABASE_URL: db().url };
    const tables = () =>
      withClientAt(
        db().url,
        async (c) =>
          (await c.query<{ n: number }>(`select count(*)::int as n from pg_tables where schemaname = 'public'`))
            .rows[0]!.n,
      );

    const empty = await runUpkit('scripts/status.ts', ['--drizzle-dir', dir], { env });
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toContain(`${db().database}: empty (no release), 5 steps pending to reach 0004_notes`);

    // The first admin is Pulse's: refused before anything is installed.
    const passwordFile = path.join(temp('upkit-app-pw-'), 'password');
    writeFileSync(passwordFile, 'a long enough password\n', { mode: 0o600 });
    const admin = await runUpkit(
      'install.ts',
      [
        ...backupArgs(),
        '--yes',
        '--no-containers',
        '--drizzle-dir',
        dir,
        '--admin-email',
        'ops@example.com',
        '--admin-password-file',
        passwordFile,
      ],
      { env, cwd },
    );
    expect(admin.code, admin.stderr).toBe(2);
    expect(admin.stderr).toContain(
      '✖ --admin-email creates a Pulse organization and user; it does not apply with --drizzle-dir',
    );
    expect(await tables()).toBe(0);

    const install = await runUpkit(
      'install.ts',
      [...backupArgs(), '--yes', '--no-containers', '--json', '--drizzle-dir', dir],
      { env, cwd },
    );
    expect(install.code, install.stderr).toBe(0);
    const report = install.json<Report>();
    expect(report.release).toEqual({ from: null, to: '0004_notes' });
    expect(report.plan?.profile).toBe('app');
    // Pulse's .env keys (its secrets, DB_USER=pulse) are Pulse's: an app's install writes no .env.
    expect(existsSync(path.join(cwd, '.env'))).toBe(false);
    expect(report.plan?.steps.map((s) => `${s.kind} ${s.tag ?? ''}`.trim())).toEqual([
      'drizzle 0000_init',
      'drizzle 0001_api_keys',
      'drizzle 0002_audit_logs',
      'drizzle 0003_integration_status_enum',
      'drizzle 0004_notes',
    ]);
    // No seed step ran: Pulse's seed tables are there, and empty.
    expect(
      await withClientAt(
        db().url,
        async (c) =>
          (
            await c.query<{ n: number }>(
              'select ((select count(*) from roles) + (select count(*) from permissions))::int as n',
            )
          ).rows[0]!.n,
      ),
    ).toBe(0);

    const again = await runUpkit('install.ts', [...backupArgs(), '--yes', '--no-containers', '--drizzle-dir', dir], {
      env,
      cwd,
    });
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(
      `✖ ${db().database} already holds 0004_notes; install never changes an existing database`,
    );

    const status = await runUpkit('scripts/status.ts', ['--drizzle-dir', dir], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`${db().database}: 0004_notes, up to date`);
    expect(status.stdout).not.toContain('legacy ledger');

    const verify = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], { env });
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.json<Report>().release).toEqual({ from: '0004_notes', to: '0004_notes' });

    for (const r of [empty, install, again, status]) expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/Pulse/);
  });
});
