// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): hints that name a path, a
// database or a role are pasted exactly as printed: shell commands into bash, SQL into psql,
// against the real server, with names that need quoting (a space, a quote, a ü). And a
// password that also occurs inside the names and paths is masked only where it is a password.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { takeBackup } from '../../lib/backup/run.ts';
import { findBinaries } from '../../lib/pgTools.ts';
import { loadConfig } from '../../lib/config.ts';
import { shellQuote, sqlIdent } from '../../lib/quote.ts';
import type { Report } from '../../lib/report.ts';
import { expectCase, failureCase, runCase, tempDir } from '../failures/check.ts';
import { pattern } from '../failures/match.ts';
import { ROOT } from '../support/cli.ts';
import { backupTests, serverInfo, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { drizzleFolderWith } from '../support/drizzleFolders.ts';
import { hiddenClientBinDir } from '../support/servers/hidden.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { createLogger } from '../../lib/log.ts';
import { Writable } from 'node:stream';

const run = promisify(execFile);
const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

const ODD_DB = `Pulse "prod"-ü db ${process.pid}`;
const ODD_ROLE = `Ops "Admin" ${process.pid}`;

function urlFor(user: string, password: string, database: string): string {
  const admin = new URL(serverInfo().adminUrl);
  return (
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}` +
    `@${admin.hostname}:${admin.port}/${encodeURIComponent(database)}`
  );
}

/**
 * psql: the server's own (embedded servers have none), else one on this machine (none while
 * UPKIT_TEST_HIDE_SYSTEM_PG=all hides them).
 */
async function psqlPath(): Promise<string | undefined> {
  const own = serverInfo().binDir;
  if (own && existsSync(path.join(own, 'psql'))) return path.join(own, 'psql');
  return (await findBinaries('psql', hiddenClientBinDir()))[0]?.path;
}

/** As an administrator pastes SQL: psql, stopping at the first error. */
async function psql(bin: string, database: string, sql: string): Promise<void> {
  const admin = new URL(serverInfo().adminUrl);
  admin.pathname = `/${encodeURIComponent(database)}`;
  await run(bin, [admin.toString(), '-X', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    env: { PATH: process.env.PATH ?? '' },
  });
}

/** The hint as printed on stderr, after `→ `, right after the line that matches `message`. */
function printedHint(stderr: string, line: RegExp): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^\S+Z /, ''));
  const at = lines.findIndex((l) => line.test(l));
  expect(at, stderr).toBeGreaterThanOrEqual(0);
  return lines[at + 1]!.replace(/^ {2}→ /, '');
}

async function dropAll(databases: string[], roles: string[]): Promise<void> {
  await withAdminClient(async (c) => {
    for (const d of databases) {
      const { rows } = await c.query<{ datname: string }>(
        'select datname from pg_database where datname = $1 or starts_with(datname, $2)',
        [d, `${d}_`],
      );
      for (const r of rows) await c.query(`drop database if exists ${c.escapeIdentifier(r.datname)} with (force)`);
    }
    for (const r of roles) await c.query(`drop role if exists ${c.escapeIdentifier(r)}`);
  });
}

describe('failure catalogue: hints that paste', () => {
  const db = useFreshDatabase();

  it('out.paste-go-back', backupTests(), async () => {
    const user = `pulse_admin_${process.pid}`;
    const database = `pulse_${process.pid}_${Date.now() % 100000}`;
    const backups = path.join(tempDir('upkit-case-'), 'pulse backups', "ops' copies");
    mkdirSync(backups, { recursive: true });
    await withAdminClient(async (c) => {
      await c.query(`create role ${c.escapeIdentifier(user)} login superuser password 'pulse'`);
      await c.query(
        `create database ${c.escapeIdentifier(database)} owner ${c.escapeIdentifier(user)}` +
          ` template ${c.escapeIdentifier(serverInfo().templateDatabase)}`,
      );
    });
    try {
      const url = urlFor(user, 'pulse', database);
      await withClientAt(url, (c) => buildRelease(c, 'v2.3'));
      const drizzle = drizzleFolderWith(
        { tag: '0004_marker', sql: 'CREATE TABLE "marker" ("id" integer PRIMARY KEY);', when: 1_795_600_000_000 },
        { tag: '0005_fails', sql: 'SELECT 1 / 0;', when: 1_795_600_001_000 },
      );
      const fc = failureCase('out.paste-go-back');
      const r = await runCase(fc, { url, backups, drizzle });
      const dumps = readdirSync(backups).filter((f) => f.endsWith('.dump'));
      expect(dumps, r.stderr).toHaveLength(1);
      const backup = path.join(backups, dumps[0]!);
      expectCase(r, fc, { ...r.vars, quoted: shellQuote(backup) });
      // Names and paths whole everywhere, though the password is part of them.
      const report = r.json<Report>();
      expect(report.backup?.path).toBe(backup);
      for (const [where, text] of [
        ['stderr', r.stderr],
        ['log', r.logs()],
        ['--json', r.stdout],
      ] as const) {
        expect(text, where).toContain(database);
        expect(text, where).not.toContain('***');
      }
      expect(r.logs()).toContain(backup);

      // Pasted into bash, from upkit's directory, as printed (plus --yes: there is no terminal here).
      const hint = printedHint(r.stderr, pattern(`✖ ${fc.message}`, {}));
      const command = hint.split('to go back: ')[1]!;
      const pasted = await run('bash', ['-c', `${command} --yes`], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          NO_COLOR: '1',
          DATABASE_URL: url,
          UPKIT_LOG_DIR: tempDir('upkit-logs-'),
        },
        timeout: 120_000,
      }).catch((err: { code: number; stderr: string }) => err);
      expect((pasted as { code?: number }).code ?? 0, (pasted as { stderr: string }).stderr).toBe(0);
      const after = await withClientAt(url, async (c) => ({
        marker: (await c.query(`select to_regclass('public.marker') is not null as ok`)).rows[0].ok,
        entries: (await c.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n,
      }));
      expect(after).toEqual({ marker: false, entries: 4 });
    } finally {
      await dropAll([database], [user]);
    }
  });

  it('out.paste-alter-database', async () => {
    await withAdminClient(async (c) => {
      await c.query(`create database ${c.escapeIdentifier(ODD_DB)}`);
      await c.query(`alter database ${c.escapeIdentifier(ODD_DB)} allow_connections false`);
    });
    try {
      const admin = new URL(serverInfo().adminUrl);
      const url = urlFor(decodeURIComponent(admin.username), decodeURIComponent(admin.password), ODD_DB);
      const fc = failureCase('out.paste-alter-database');
      const r = await runCase(fc, { url });
      const command = [
        'psql',
        '-h',
        admin.hostname,
        '-p',
        admin.port,
        '-U',
        decodeURIComponent(admin.username),
        '-d',
        'postgres',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        `ALTER DATABASE ${sqlIdent(ODD_DB)} WITH ALLOW_CONNECTIONS true`,
      ]
        .map(shellQuote)
        .join(' ');
      expectCase(r, fc, { ...r.vars, database: ODD_DB, command });
      const hint = printedHint(r.stderr, /refuses connections/);
      const pasted = /turn it on: (psql .*)$/.exec(hint)![1]!;
      // Pasted into bash as printed; the password comes from the environment, as psql reads it.
      const bin = serverInfo().binDir ?? '';
      await run('bash', ['-c', pasted], {
        env: { PATH: `${bin}:${process.env.PATH ?? ''}`, PGPASSWORD: decodeURIComponent(admin.password) },
      });
      const again = await runCase({ ...fc, json: false }, { url });
      expect(again.code, again.stderr).toBe(0);
    } finally {
      await dropAll([ODD_DB], []);
    }
  });

  it('out.paste-grant', async (ctx) => {
    const bin = await psqlPath();
    if (!bin)
      return ctx.skip("needs psql to paste the hint with: none beside the server's programs or on this machine");
    await withAdminClient(async (c) => {
      await c.query(`create role ${c.escapeIdentifier(ODD_ROLE)} login password 'ops-pw'`);
      await c.query(`create database ${c.escapeIdentifier(ODD_DB)}`);
    });
    try {
      // PostgreSQL 14 still grants CREATE on public to everyone; later majors do not.
      await withAdminClient((c) => c.query('revoke create on schema public from public'), ODD_DB);
      const url = urlFor(ODD_ROLE, 'ops-pw', ODD_DB);
      const fc = failureCase('out.paste-grant');
      const r = await runCase(fc, { url });
      expectCase(r, fc, {
        ...r.vars,
        user: ODD_ROLE,
        database: ODD_DB,
        dbIdent: sqlIdent(ODD_DB),
        userIdent: sqlIdent(ODD_ROLE),
      });
      const hint = printedHint(r.stderr, /✖ privileges {2}role/);
      const sql = /administrator: (GRANT .*;) \(or connect/.exec(hint)![1]!;
      await psql(bin, ODD_DB, sql);
      const again = await runCase({ ...fc, json: false }, { url });
      expect(again.stderr).toMatch(/✔ privileges/);
    } finally {
      await withAdminClient((c) => c.query(`drop owned by ${c.escapeIdentifier(ODD_ROLE)} cascade`), ODD_DB).catch(
        () => {},
      );
      await dropAll([ODD_DB], [ODD_ROLE]);
    }
  });

  it('out.paste-alter-role', backupTests(), async (ctx) => {
    const bin = await psqlPath();
    if (!bin)
      return ctx.skip("needs psql to paste the hint with: none beside the server's programs or on this machine");
    await asRelease(db(), 'v2.3');
    const dir = tempDir('upkit-restore-');
    const backup = await takeBackup(loadConfig({ env: { DATABASE_URL: db().url }, cwd: dir }), quiet(), {
      backupDir: dir,
      keep: 5,
      upkitVersion: 'test',
    });
    const into = `${db().database}_copy`;
    await withAdminClient((c) => c.query(`create role ${c.escapeIdentifier(ODD_ROLE)} login password 'ops-pw'`));
    try {
      const url = urlFor(ODD_ROLE, 'ops-pw', db().database);
      const fc = failureCase('out.paste-alter-role');
      const r = await runCase(fc, { url, file: backup.path, into });
      const admin = new URL(serverInfo().adminUrl);
      expectCase(r, fc, {
        ...r.vars,
        user: ODD_ROLE,
        userIdent: sqlIdent(ODD_ROLE),
        where: `${admin.hostname}:${admin.port}`,
      });
      const hint = printedHint(r.stderr, /cannot create databases/);
      const sql = /run: (ALTER ROLE .*;) then run/.exec(hint)![1]!;
      await psql(bin, 'postgres', sql);
      const { rows } = await withAdminClient((c) =>
        c.query('select rolcreatedb from pg_roles where rolname = $1', [ODD_ROLE]),
      );
      expect(rows[0].rolcreatedb).toBe(true);
    } finally {
      await dropAll([into], [ODD_ROLE]);
    }
  });
});
