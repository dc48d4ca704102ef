// Server kills (issue #8): PostgreSQL itself dies while an upgrade's migration runs. A
// dedicated cluster (never the shared test server), an upgrade caught mid-migration by a
// session holding a lock it needs, then kill -9 of the postmaster (restarted by the
// harness, as an operator or systemd would) or of upkit's own backend (PostgreSQL then
// ends every session and restarts by itself, as after the OOM killer). upkit must stop
// with one clear line and the documented exit code; the rerun must converge with every row.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { connectTo } from '../support/database.ts';
import { buildRelease, type FixtureRelease } from '../support/releases.ts';
import { flattenFlags, rowSnapshot } from '../support/rows.ts';
import { findSystemInstalls } from '../support/servers/discover.ts';
import { startSystemServer } from '../support/servers/system.ts';
import type { ServerHandle } from '../support/servers/common.ts';
import {
  checkAfterRerun,
  crashServer,
  inspectBackupDir,
  launchUpgrade,
  runningRunOf,
  tmpEntries,
  untilUpkitGone,
  withSession,
  type CampaignOptions,
  type CrashServer,
} from './crashHarness.ts';
import { lockWaiter, until, untilFound } from '../support/wait.ts';
import { childPids } from '../../lib/children.ts';
import { DURATION } from '../support/logLines.ts';

// ---------------------------------------------------------------------------------------
// A cluster of our own that may be killed

export interface Cluster {
  handle: ServerHandle;
  server: CrashServer;
  dataDir: string;
  postmasterPid(): number;
  /** kill -9 of the postmaster; resolves once it and every backend are gone. */
  killPostmaster(): Promise<void>;
  /** pg_ctl start after a crash (crash recovery included); resolves with its duration. */
  restart(): Promise<number>;
  /** Resolves once the server accepts connections again (after it restarted itself). */
  untilAccepting(timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

function exec(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: 120_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

/** Running (non-zombie) processes whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  return childPids(ppid).filter(running);
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export async function startCluster(binDir?: string): Promise<Cluster> {
  const dir = binDir ?? (await findSystemInstalls())[0]?.binDir;
  if (!dir)
    throw new Error(
      'server kills need PostgreSQL server programs on this machine (initdb, pg_ctl): apt-get install postgresql',
    );
  const handle = await startSystemServer({ binDir: dir });
  try {
    const dataDir = await withSession(handle.adminUrl, async (c) => {
      // The harness cluster trades durability for speed; a crash test wants commits as a real
      // server makes them (fsync only matters when the machine itself goes down).
      await c.query('alter system set synchronous_commit = on');
      await c.query('select pg_reload_conf()');
      return (await c.query<{ d: string }>("select current_setting('data_directory') as d")).rows[0]!.d;
    });
    const asPostgres = process.getuid?.() === 0;
    const pgCtl = (args: string[]) =>
      asPostgres
        ? exec('runuser', ['-u', 'postgres', '--', path.join(dir, 'pg_ctl'), ...args], path.dirname(dataDir))
        : exec(path.join(dir, 'pg_ctl'), args, path.dirname(dataDir));
    const postmasterPid = () => Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const accepting = async () => {
      try {
        await withSession(handle.adminUrl, (c) => c.query('select 1'));
        return true;
      } catch {
        return false;
      }
    };
    return {
      handle,
      server: crashServer(handle.adminUrl),
      dataDir,
      postmasterPid,
      async killPostmaster() {
        const pm = postmasterPid();
        const backends = childrenOf(pm);
        process.kill(pm, 'SIGKILL');
        // Orphaned backends notice the postmaster's death and exit; until they have, the
        // shared memory is in use and a new postmaster refuses to start.
        await until(() => !running(pm) && backends.every((p) => !running(p)), {
          what: 'the postmaster and its backends to exit',
          everyMs: 20,
          timeoutMs: 30_000,
        });
      },
      async restart() {
        const t0 = Date.now();
        // The killed postmaster stays a zombie where PID 1 does not reap orphans (some
        // containers), and PostgreSQL takes a zombie's pid for a live server: its lock file
        // is stale once that pid runs nothing.
        const socketDir = path.dirname(dataDir);
        const locks = [
          path.join(dataDir, 'postmaster.pid'),
          ...readdirSync(socketDir)
            .filter((f) => /^\.s\.PGSQL\.\d+\.lock$/.test(f))
            .map((f) => path.join(socketDir, f)),
        ];
        for (const lock of locks) {
          if (existsSync(lock) && !running(Number(readFileSync(lock, 'utf8').split('\n')[0]))) rmSync(lock);
        }
        const logFile = path.join(path.dirname(dataDir), 'restart.log');
        await pgCtl(['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60']).catch((err: Error) => {
          throw new Error(`${err.message}\n${existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : ''}`);
        });
        await until(accepting, { what: 'the restarted server to accept connections', everyMs: 20, timeoutMs: 60_000 });
        return Date.now() - t0;
      },
      untilAccepting: (timeoutMs = 60_000) =>
        until(accepting, { what: 'the server to accept connections', everyMs: 20, timeoutMs: timeoutMs }),
      stop: () => handle.stop(),
    };
  } catch (err) {
    await handle.stop().catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Scenarios: where the upgrade is caught, and how the server dies

export interface ServerKillScenario {
  name: string;
  release: FixtureRelease;
  /** Run by a session of "the application" before the upgrade starts; it holds a lock a migration needs. */
  blocker: string[];
  /** upkit's migration session waits on a lock while running a statement matching this. */
  waitingOn: RegExp;
  how: 'postmaster' | 'backend';
  /** Had changes been committed before the kill (exit 1, naming the backup), or not (exit 3)? */
  changesBegan: boolean;
}

export const SERVER_KILLS: readonly ServerKillScenario[] = [
  {
    name: "kill -9 postmaster during 0002's concurrent index build",
    release: 'v2.1',
    blocker: ['begin isolation level repeatable read', 'select count(*) from users'],
    waitingOn: /CONCURRENTLY/,
    how: 'postmaster',
    changesBegan: true,
  },
  {
    name: "kill -9 postmaster inside 0003's transaction, after 0001 and 0002 committed",
    release: 'v2.0',
    blocker: ['begin', 'lock table aws_integrations in access share mode'],
    waitingOn: /aws_integrations/,
    how: 'postmaster',
    changesBegan: true,
  },
  {
    name: "kill -9 of upkit's backend inside 0001's transaction, after the baseline (server restarts itself)",
    release: 'v1.4',
    blocker: ['begin', 'lock table organizations in row exclusive mode'],
    waitingOn: /api_keys/,
    how: 'backend',
    changesBegan: true,
  },
  {
    name: 'kill -9 postmaster inside the legacy transaction, before any change',
    release: 'v1.1',
    blocker: ['begin', 'lock table users in access share mode'],
    waitingOn: /./,
    how: 'postmaster',
    changesBegan: false,
  },
];

export interface ServerKillResult {
  scenario: ServerKillScenario;
  exitCode: number | null;
  expectedExit: number;
  /** The error line upkit printed (without its timestamp). */
  errorLine: string;
  hint: string;
  restartMs: number;
  rerunCode: number | null;
  converged: boolean;
  rowsLost: number;
  problems: string[];
}

function untilWaiting(url: string, query: RegExp, timeoutMs = 60_000): Promise<number> {
  return withSession(url, (c) =>
    untilFound(() => lockWaiter(c, query), {
      what: `upkit's migration session to wait on ${query}`,
      everyMs: 20,
      timeoutMs,
    }),
  );
}

const stripTime = (line: string) => line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, '');

export async function serverKillAndRerun(
  cluster: Cluster,
  scenario: ServerKillScenario,
  options: CampaignOptions,
): Promise<ServerKillResult> {
  const db = await cluster.server.createDatabase();
  const backupDir = mkdtempSync(path.join(tmpdir(), 'upkit-crash-bk-'));
  const logDirs: string[] = [];
  let blocker: pg.Client | undefined;
  try {
    const before = await withSession(db.url, async (c) => {
      await buildRelease(c, scenario.release, { data: options.data });
      return flattenFlags(await rowSnapshot(c));
    });
    const fresh = await cluster.server.freshFingerprint();
    const tmpBefore = tmpEntries(options.tmpDir);
    const problems: string[] = [];
    blocker = await connectTo(db.url, 'pulse-api');
    blocker.on('error', () => {});
    for (const sql of scenario.blocker) await blocker.query(sql);

    const args = ['--yes', '--json', '--backup-dir', backupDir];
    // upkit waits for the lock instead of giving way, so the kill lands inside the migration.
    const first = launchUpgrade({
      launcher: options.launcher,
      args,
      env: { DATABASE_URL: db.url, LOCK_TIMEOUT: '60000' },
      tmpDir: options.tmpDir,
      timeoutMs: 120_000,
    });
    const backend = await untilWaiting(db.url, scenario.waitingOn).catch(async (err: Error) => {
      first.killGroup();
      const r = await first.done;
      throw new Error(`${err.message}; upkit exited ${r.code ?? r.signal}: ${r.stderr.slice(-1500)}`);
    });
    if (scenario.how === 'postmaster') await cluster.killPostmaster();
    else process.kill(backend, 'SIGKILL');
    const r1 = await first.done;
    logDirs.push(r1.logDir);
    await blocker.end().catch(() => {});
    blocker = undefined;

    const expectedExit = scenario.changesBegan ? 1 : 3;
    if (r1.code !== expectedExit) problems.push(`upkit exited ${r1.code ?? r1.signal}, expected ${expectedExit}`);
    const lines = r1.stderr.split('\n').map(stripTime);
    // A failed step's own line ends with its duration; the error itself is the other ✖ line.
    const errors = lines.filter((l) => l.startsWith('✖ ') && !new RegExp(String.raw`\(${DURATION}\)$`).test(l));
    const errorLine = errors.at(-1) ?? '';
    const hint = lines.slice(lines.lastIndexOf(errorLine)).find((l) => l.startsWith('  → ')) ?? '';
    if (errors.length !== 1) problems.push(`expected one error line, got ${errors.length}: ${errors.join(' / ')}`);
    if (!/lost the connection to PostgreSQL/.test(errorLine))
      problems.push(`the error does not say the connection to the server was lost: ${errorLine}`);
    if (!/run the upgrade again/.test(hint)) problems.push(`the hint does not say to run the upgrade again: ${hint}`);
    if (scenario.changesBegan) {
      const named = /npx zx scripts\/restore\.ts (\S+)/.exec(hint)?.[1];
      if (!named) problems.push(`the hint names no restore command: ${hint}`);
      else if (!named.startsWith(backupDir) || (await inspectBackupDir(backupDir)).good < 1)
        problems.push(`the backup the hint names is not a verified backup: ${named}`);
    } else if (!/nothing was changed/.test(r1.stderr))
      problems.push('the output does not say that nothing was changed');

    const restartMs = scenario.how === 'postmaster' ? await cluster.restart() : await cluster.untilAccepting();
    await untilUpkitGone(db.url);
    const killedRunId = await runningRunOf(db.url, r1.log());

    const second = launchUpgrade({
      launcher: options.launcher,
      args,
      env: { DATABASE_URL: db.url },
      tmpDir: options.tmpDir,
    });
    const r2 = await second.done;
    logDirs.push(r2.logDir);
    if (r2.code !== 0)
      problems.push(`rerun exited ${r2.code ?? r2.signal}: ${r2.stderr.trim().split('\n').slice(-4).join(' | ')}`);
    const verdict = await checkAfterRerun(db.url, {
      before,
      fresh,
      backupDir,
      killedRunId,
      tmpDir: options.tmpDir,
      tmpBefore,
    });
    return {
      scenario,
      exitCode: r1.code,
      expectedExit,
      errorLine,
      hint,
      restartMs,
      rerunCode: r2.code,
      converged: verdict.converged && r2.code === 0,
      rowsLost: verdict.rowsLost,
      problems: [...problems, ...verdict.problems],
    };
  } finally {
    await blocker?.end().catch(() => {});
    for (const d of [backupDir, ...logDirs]) rmSync(d, { recursive: true, force: true });
    await db.drop().catch(() => {});
  }
}
