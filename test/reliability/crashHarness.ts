// Crash injection (issue #8): an upgrade from a release fixture with data is started as an
// operator starts it, its whole process group is killed with SIGKILL after a seeded random
// delay, and it is run again to completion. Then everything an operator relies on is
// checked: exit 0, the schema of a fresh install, every row kept (up to the documented
// transforms), no INVALID index, the run lock free, the killed run marked crashed, no
// backup that only looks good, no leftover files. Used by `npm run test:crash` and by
// test/integration/crash-injection.test.ts.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { LOCK_KEY } from '../../lib/db.ts';
import { manifestPathFor, readManifest } from '../../lib/backup/manifest.ts';
import { sha256File } from '../../lib/backup/restoreCheck.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { ROOT } from '../support/cli.ts';
import { connectTo } from '../support/database.ts';
import { SMALL, type DataSize } from '../support/fixtureData.ts';
import { buildRelease, DRIZZLE_DIR, type FixtureRelease } from '../support/releases.ts';
import { flattenFlags, lostOrChanged, rowSnapshot, upgradeTransforms, type RowSnapshot } from '../support/rows.ts';
import { phaseMarks, phaseReached, phaseWindows, runPrng, type Phase, type PhaseWindow } from './crashPhases.ts';
import { plural } from '../../lib/plural.ts';
import { until } from '../support/wait.ts';

/** Every release an install can be upgraded from (the latest has nothing to do). */
export const CRASH_RELEASES: readonly FixtureRelease[] = [
  'empty',
  'v1.0',
  'v1.1',
  'v1.2',
  'v1.3',
  'v1.4',
  'v2.0',
  'v2.1',
  'v2.2',
];
export const DEFAULT_SEED = 20261124;

// ---------------------------------------------------------------------------------------
// Where the databases live

export interface CrashDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A PostgreSQL server the harness may create databases on (superuser URL). */
export interface CrashServer {
  adminUrl: string;
  createDatabase(): Promise<CrashDatabase>;
  /** A fresh install's schema, built once on this server. */
  freshFingerprint(): Promise<string[]>;
}

let dbSequence = 0;

export function crashServer(adminUrl: string): CrashServer {
  let fresh: Promise<string[]> | undefined;
  const server: CrashServer = {
    adminUrl,
    async createDatabase() {
      dbSequence += 1;
      const name = `upkit_crash_${process.pid}_${dbSequence}_${Date.now().toString(36)}`;
      await withSession(adminUrl, (c) => c.query(`create database ${name}`));
      const u = new URL(adminUrl);
      u.pathname = `/${name}`;
      return {
        name,
        url: u.toString(),
        drop: () =>
          withSession(adminUrl, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
      };
    },
    freshFingerprint() {
      fresh ??= (async () => {
        const db = await server.createDatabase();
        try {
          return await withSession(db.url, async (c) => {
            await buildRelease(c, 'v2.3', { data: false });
            return schemaFingerprint(c);
          });
        } finally {
          await db.drop();
        }
      })();
      return fresh;
    },
  };
  return server;
}

export async function withSession<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connectTo(url, 'upkit crash harness');
  c.on('error', () => {});
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------
// Running upgrade.ts as an operator does, in a process group of its own

/** `npx` runs `npx zx upgrade.ts` from upkit's directory, as an operator types it; `node` skips npx's own start-up. */
export type Launcher = 'npx' | 'node';

export interface Launch {
  pid: number;
  logDir: string;
  /** Epoch ms just before the spawn. */
  spawnedAt: number;
  done: Promise<LaunchResult>;
  /** SIGKILL to the whole process group (npx, node, pg_dump, pg_restore). */
  killGroup(): void;
}

export interface LaunchResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  exitedAt: number;
  logDir: string;
  /** Every log file the run wrote, concatenated. */
  log(): string;
}

export interface LaunchOptions {
  launcher: Launcher;
  args: string[];
  env: Record<string, string>;
  /** Private temporary directory (TMPDIR) shared by the campaign's runs. */
  tmpDir: string;
  timeoutMs?: number;
  /** The entry point (default upgrade.ts). */
  entry?: string;
}

const ZX_CLI = path.join(ROOT, 'node_modules/zx/build/cli.js');
const TSX_LOADER = import.meta.resolve('tsx');

export function launchUpgrade(options: LaunchOptions): Launch {
  const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-crash-logs-'));
  const env: Record<string, string> = { UPKIT_LOG_DIR: logDir, NO_COLOR: '1', TMPDIR: options.tmpDir };
  for (const k of ['PATH', 'HOME', 'LANG']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  Object.assign(env, options.env);
  const [command, argv, cwd] =
    options.launcher === 'npx'
      ? ['npx', ['zx', options.entry ?? 'upgrade.ts', ...options.args], ROOT]
      : [
          process.execPath,
          ['--import', TSX_LOADER, ZX_CLI, path.join(ROOT, options.entry ?? 'upgrade.ts'), ...options.args],
          mkdtempSync(path.join(options.tmpDir, 'cwd-')),
        ];
  const spawnedAt = Date.now();
  const child = spawn(command, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid!;
  const killGroup = () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(killGroup, options.timeoutMs ?? 180_000);
  const done = new Promise<LaunchResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const exitedAt = Date.now();
      if (options.launcher === 'node') rmSync(cwd, { recursive: true, force: true });
      resolve({
        code,
        signal,
        stdout,
        stderr,
        exitedAt,
        logDir,
        log: () =>
          readdirSync(logDir)
            .sort()
            .map((f) => readFileSync(path.join(logDir, f), 'utf8'))
            .join('\n'),
      });
    });
  });
  return { pid, logDir, spawnedAt, done, killGroup };
}

/** Processes of the group that still run (zombies waiting to be reaped do not count). */
export function groupMembers(pgid: number): string[] {
  const alive: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
      const close = stat.lastIndexOf(')');
      const [state, , pgrp] = stat.slice(close + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') alive.push(`${pid} ${stat.slice(stat.indexOf('(') + 1, close)}`);
    } catch {
      // ended between listing and reading
    }
  }
  return alive;
}

// ---------------------------------------------------------------------------------------
// Calibration: one uninterrupted run per release, so kills land across every phase

export interface Calibration {
  release: FixtureRelease;
  totalMs: number;
  windows: PhaseWindow[];
}

export interface CampaignOptions {
  launcher: Launcher;
  data: DataSize;
  tmpDir: string;
}

const warmed = new Set<string>();

/** One `--help` run first, so that the loader's compile cache in TMPDIR is as warm as on an operator's second run. */
export async function warmUp(options: CampaignOptions): Promise<void> {
  if (warmed.has(options.tmpDir)) return;
  const r = await launchUpgrade({ launcher: options.launcher, args: ['--help'], env: {}, tmpDir: options.tmpDir }).done;
  rmSync(r.logDir, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`upgrade.ts --help exited ${r.code ?? r.signal}: ${r.stderr.slice(-1000)}`);
  warmed.add(options.tmpDir);
}

export async function calibrate(
  server: CrashServer,
  release: FixtureRelease,
  options: CampaignOptions,
): Promise<Calibration> {
  await warmUp(options);
  const db = await server.createDatabase();
  const backupDir = mkdtempSync(path.join(tmpdir(), 'upkit-crash-bk-'));
  try {
    await withSession(db.url, (c) => buildRelease(c, release, { data: options.data }));
    const launch = launchUpgrade({
      launcher: options.launcher,
      args: ['--yes', '--json', '--backup-dir', backupDir],
      env: { DATABASE_URL: db.url },
      tmpDir: options.tmpDir,
    });
    const r = await launch.done;
    if (r.code !== 0)
      throw new Error(`calibration run from ${release} exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`);
    const windows = phaseWindows(r.log(), launch.spawnedAt, r.exitedAt);
    rmSync(r.logDir, { recursive: true, force: true });
    return { release, totalMs: r.exitedAt - launch.spawnedAt, windows };
  } finally {
    rmSync(backupDir, { recursive: true, force: true });
    await db.drop();
  }
}

// ---------------------------------------------------------------------------------------
// What a run is: drawn from the seed

export interface KillPlan {
  seed: number;
  run: number;
  release: FixtureRelease;
  /** Two further draws: which phase of the calibration run to aim at, and where inside it. */
  phaseDraw: number;
  offsetDraw: number;
}

export function drawRun(seed: number, run: number): KillPlan {
  const next = runPrng(seed, run);
  const release = CRASH_RELEASES[Math.floor(next() * CRASH_RELEASES.length)]!;
  return { seed, run, release, phaseDraw: next(), offsetDraw: next() };
}

/**
 * Where a run is killed: a phase drawn among those of its release's calibration run, and an
 * offset inside it (the drawn fraction of that phase's calibrated length). The offset counts
 * from the moment the killed run's own log shows the phase beginning (from the spawn for
 * "before start"), so short phases are hit however fast or slow the machine is today.
 */
export function aimFor(plan: KillPlan, calibration: Calibration): { aimedAt: Phase; offsetMs: number } {
  const w = calibration.windows[Math.floor(plan.phaseDraw * calibration.windows.length)]!;
  return { aimedAt: w.phase, offsetMs: Math.round(plan.offsetDraw * (w.endMs - w.startMs)) };
}

/**
 * Kills the launch's group `offsetMs` after its log shows `phase` beginning. Resolves with
 * the kill time (ms after the spawn), or null when the run ended first.
 */
export function killAt<P extends string = Phase>(
  launch: Launch,
  phase: P,
  offsetMs: number,
  marks: (log: string) => Array<{ phase: P; at: number }> = phaseMarks as unknown as (
    log: string,
  ) => Array<{ phase: P; at: number }>,
): Promise<number | null> {
  return new Promise((resolve) => {
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const fire = () => {
      if (finished) return;
      finished = true;
      cleanup();
      launch.killGroup();
      resolve(Date.now() - launch.spawnedAt);
    };
    const schedule = (anchor: number) => {
      if (timer || finished) return;
      timer = setTimeout(fire, Math.max(0, anchor + offsetMs - Date.now()));
    };
    const look = () => {
      if (timer || finished) return;
      let text = '';
      try {
        for (const f of readdirSync(launch.logDir)) text += readFileSync(path.join(launch.logDir, f), 'utf8');
      } catch {
        return;
      }
      const mark = marks(text).find((m) => m.phase === phase);
      if (mark) schedule(mark.at);
    };
    const watcher = phase === 'before start' ? undefined : watch(launch.logDir, look);
    const poll = phase === 'before start' ? undefined : setInterval(look, 15);
    const cleanup = () => {
      watcher?.close();
      clearInterval(poll);
    };
    if (phase === 'before start') schedule(launch.spawnedAt);
    void launch.done.then(() => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      cleanup();
      resolve(null);
    });
  });
}

// ---------------------------------------------------------------------------------------
// The checks after the rerun (shared by client kills and server kills)

export interface BackupDirState {
  partials: string[];
  /** `.dump` files that a listing would take for a backup but that do not match their manifest. */
  unverified: string[];
  orphanManifests: string[];
  good: number;
}

export async function inspectBackupDir(dir: string): Promise<BackupDirState> {
  const state: BackupDirState = { partials: [], unverified: [], orphanManifests: [], good: 0 };
  if (!existsSync(dir)) return state;
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (name.endsWith('.partial')) state.partials.push(name);
    else if (name.endsWith('.dump')) {
      try {
        const m = readManifest(manifestPathFor(file));
        const ok = m.file === name && m.bytes === statSync(file).size && m.sha256 === (await sha256File(file));
        if (ok) state.good += 1;
        else state.unverified.push(`${name} (does not match its manifest)`);
      } catch {
        state.unverified.push(`${name} (no readable manifest)`);
      }
    } else if (name.endsWith('.dump.json') && !existsSync(file.slice(0, -'.json'.length)))
      state.orphanManifests.push(name);
  }
  return state;
}

export function tmpEntries(dir: string): Set<string> {
  // tsx keeps its compile cache in TMPDIR: that is the loader's, not upkit's.
  return new Set(readdirSync(dir).filter((n) => !n.startsWith('tsx-')));
}

export interface Expectations {
  before: RowSnapshot;
  fresh: string[];
  backupDir: string;
  /** The killed run's id in upkit.runs, when it had recorded itself and was still `running`. */
  killedRunId: string | null;
  tmpDir: string;
  tmpBefore: Set<string>;
}

export interface Verdict {
  converged: boolean;
  rowsLost: number;
  problems: string[];
}

export async function checkAfterRerun(url: string, e: Expectations): Promise<Verdict> {
  return withSession(url, async (c) => {
    const problems: string[] = [];
    const fingerprint = await schemaFingerprint(c);
    const missing = e.fresh.filter((l) => !fingerprint.includes(l));
    const extra = fingerprint.filter((l) => !e.fresh.includes(l));
    const converged = missing.length === 0 && extra.length === 0;
    if (!converged)
      problems.push(
        `schema differs from a fresh install: missing ${missing.slice(0, 3).join('; ') || 'nothing'}; ` +
          `extra ${extra.slice(0, 3).join('; ') || 'nothing'}`,
      );
    const rows = lostOrChanged(e.before, flattenFlags(await rowSnapshot(c)), upgradeTransforms);
    for (const r of rows.slice(0, 5)) problems.push(`row: ${r}`);
    const invalid = await c.query<{ name: string }>(
      'select indexrelid::regclass::text as name from pg_index where not indisvalid',
    );
    for (const r of invalid.rows) problems.push(`INVALID index ${r.name}`);
    const journal = readMigrations(DRIZZLE_DIR).length;
    const ledger = await c.query<{ n: number; distinct: number }>(
      'select count(*)::int as n, count(distinct hash)::int as distinct from drizzle.__drizzle_migrations',
    );
    if (ledger.rows[0]!.n !== journal || ledger.rows[0]!.distinct !== journal)
      problems.push(
        `drizzle ledger holds ${ledger.rows[0]!.n} rows (` +
          `${ledger.rows[0]!.distinct} distinct) for ${journal} journal entries`,
      );
    const parts = await c.query<{ n: number }>(`select count(*)::int as n from upkit.migration_parts`);
    if (parts.rows[0]!.n) problems.push(`${plural(parts.rows[0]!.n, 'row')} left in upkit.migration_parts`);
    const lock = await c.query<{ n: number }>(
      `select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = $1 and ` +
        `objid = $2 and database = (select oid from pg_database where datname = current_database())`,
      [LOCK_KEY.classId, LOCK_KEY.objId],
    );
    if (lock.rows[0]!.n) problems.push('the run lock is still held');
    const runs = await c.query<{ id: string; status: string }>('select id, status from upkit.runs order by started_at');
    for (const r of runs.rows.filter((x) => x.status === 'running'))
      problems.push(`run ${r.id} still shows as running`);
    if (e.killedRunId) {
      const killed = runs.rows.find((r) => r.id === e.killedRunId);
      if (killed?.status !== 'crashed')
        problems.push(`the killed run ${e.killedRunId} shows as ${killed?.status ?? 'missing'}, not crashed`);
    }
    const backups = await inspectBackupDir(e.backupDir);
    for (const p of backups.partials) problems.push(`partial backup left: ${p}`);
    for (const u of backups.unverified) problems.push(`backup that is not what its name claims: ${u}`);
    for (const o of backups.orphanManifests) problems.push(`manifest without its archive: ${o}`);
    const added = [...tmpEntries(e.tmpDir)].filter((n) => !e.tmpBefore.has(n));
    for (const a of added) problems.push(`left in TMPDIR: ${a}`);
    return { converged, rowsLost: rows.length, problems };
  });
}

/** Waits until no session of upkit is connected to the database of `url` (a backend busy with a
 * statement outlives its client); other databases on the server may have upkit sessions of their own. */
export function untilUpkitGone(url: string, timeoutMs = 60_000): Promise<number> {
  return withSession(url, (c) =>
    until(
      async () =>
        (
          await c.query<{ n: number }>(
            `select count(*)::int as n from pg_stat_activity where datname = current_database() ` +
              `and application_name like 'upkit %' and application_name ` +
              `<> 'upkit crash harness' and pid <> pg_backend_pid()`,
          )
        ).rows[0]!.n === 0,
      { what: "upkit's sessions to end after the kill", everyMs: 25, timeoutMs },
    ),
  );
}

/** The run id the killed run recorded (from its log), when upkit.runs still shows it running. */
export async function runningRunOf(url: string, log: string): Promise<string | null> {
  const id = /recorded in upkit\.runs as run (\S+)/.exec(log)?.[1];
  if (!id) return null;
  return withSession(url, async (c) => {
    const { rows } = await c.query<{ status: string }>('select status from upkit.runs where id = $1', [id]);
    return rows[0]?.status === 'running' ? id : null;
  });
}

// ---------------------------------------------------------------------------------------
// One client kill

export interface KillResult {
  plan: KillPlan;
  aimedAt: Phase;
  /** After the aimed phase began (after the spawn for "before start"). */
  offsetMs: number;
  /** When the SIGKILL was sent, after the spawn; null when the run ended first. */
  killedAtMs: number | null;
  /** Where the killed run was, from its log; `finished` when it exited before the kill. */
  phaseHit: Phase | 'finished';
  /** The killed run had recorded itself in upkit.runs and still showed as running. */
  hadRunRow: boolean;
  sessionsGoneMs: number;
  rerunCode: number | null;
  rerunMs: number;
  converged: boolean;
  rowsLost: number;
  problems: string[];
}

export async function killAndRerun(
  server: CrashServer,
  plan: KillPlan,
  calibration: Calibration,
  options: CampaignOptions,
): Promise<KillResult> {
  const { aimedAt, offsetMs } = aimFor(plan, calibration);
  const db = await server.createDatabase();
  const backupDir = mkdtempSync(path.join(tmpdir(), 'upkit-crash-bk-'));
  const logDirs: string[] = [];
  try {
    const before = await withSession(db.url, async (c) => {
      await buildRelease(c, plan.release, { data: options.data });
      return flattenFlags(await rowSnapshot(c));
    });
    const [fresh, tmpBefore] = [await server.freshFingerprint(), tmpEntries(options.tmpDir)];
    const args = ['--yes', '--json', '--backup-dir', backupDir];
    const env = { DATABASE_URL: db.url };
    const problems: string[] = [];

    const first = launchUpgrade({ launcher: options.launcher, args, env, tmpDir: options.tmpDir });
    const killedAtMs = await killAt(first, aimedAt, offsetMs);
    const r1 = await first.done;
    logDirs.push(r1.logDir);
    const log1 = r1.log();
    // A process killed a moment ago may still be tearing down (its pipes close before it is gone).
    let outlived = groupMembers(first.pid);
    for (let i = 0; i < 40 && outlived.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      outlived = groupMembers(first.pid);
    }
    if (outlived.length)
      problems.push(`process(es) of the killed run outlived the SIGKILL of its group: ${outlived.join(', ')}`);
    const phaseHit: Phase | 'finished' =
      killedAtMs !== null && r1.signal === 'SIGKILL' ? phaseReached(log1) : 'finished';
    if (phaseHit === 'finished' && r1.code !== 0)
      problems.push(`the run exited ${r1.code ?? r1.signal} before the kill: ${r1.stderr.slice(-400)}`);

    const sessionsGoneMs = await untilUpkitGone(db.url);
    const killedRunId = await runningRunOf(db.url, log1);
    const afterKill = await inspectBackupDir(backupDir);
    for (const u of afterKill.unverified)
      problems.push(`after the kill, a backup that is not what its name claims: ${u}`);

    const t0 = Date.now();
    const second = launchUpgrade({ launcher: options.launcher, args, env, tmpDir: options.tmpDir });
    const r2 = await second.done;
    logDirs.push(r2.logDir);
    const rerunMs = Date.now() - t0;
    if (r2.code !== 0)
      problems.push(`rerun exited ${r2.code ?? r2.signal}: ${r2.stderr.trim().split('\n').slice(-4).join(' | ')}`);
    if (killedRunId && !r2.stderr.includes('died without finishing; marked crashed'))
      problems.push('the rerun did not say that the killed run was marked crashed');
    if (/\bunexpected error\b/.test(r2.stderr)) problems.push('the rerun printed an unexpected error');

    const verdict = await checkAfterRerun(db.url, {
      before,
      fresh,
      backupDir,
      killedRunId,
      tmpDir: options.tmpDir,
      tmpBefore,
    });
    return {
      plan,
      aimedAt,
      offsetMs,
      killedAtMs,
      phaseHit,
      hadRunRow: killedRunId !== null,
      sessionsGoneMs,
      rerunCode: r2.code,
      rerunMs,
      converged: verdict.converged && r2.code === 0,
      rowsLost: verdict.rowsLost,
      problems: [...problems, ...verdict.problems],
    };
  } finally {
    for (const d of [backupDir, ...logDirs]) rmSync(d, { recursive: true, force: true });
    await db.drop();
  }
}

export function newTmpDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-crash-tmp-'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export const DEFAULT_DATA: DataSize = SMALL;
