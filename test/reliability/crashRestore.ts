// Crash injection for in-place restores: a v2.3 install with data is backed up, changed
// (rows deleted), and restored in place by `scripts/restore.ts FILE --yes`, whose process
// group is killed with SIGKILL at a seeded point (a phase of a calibration run, with the
// swap drawn more often: it is the moment that matters and lasts milliseconds). Then the
// operator's path is taken: `scripts/status.ts` says what the kill left, and the one
// command it names (if any) is run. Afterwards the live database must accept connections,
// no restore copy may be left, the run lock must be free, and no row may be lost: the live
// database holds either the rows it had (nothing was renamed) or the backup's rows with the
// database it replaced kept beside it, rows and all.
import { rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { isCopyName } from '../../lib/backup/leftovers.ts';
import { takeBackup } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { LOCK_KEY } from '../../lib/db.ts';
import { ensureLedger } from '../../lib/ledger.ts';
import { createLogger } from '../../lib/log.ts';
import type { Report } from '../../lib/report.ts';
import { buildRelease } from '../support/releases.ts';
import { lostOrChanged, rowSnapshot, type RowSnapshot } from '../support/rows.ts';
import {
  killAt,
  launchUpgrade,
  warmUp,
  withSession,
  type CampaignOptions,
  type CrashDatabase,
  type CrashServer,
  type Launch,
} from './crashHarness.ts';
import { runPrng } from './crashPhases.ts';
import { until } from '../support/wait.ts';

export const RESTORE_PHASES = [
  'before start',
  'start-up',
  'check backup',
  'check server',
  'create',
  'pg_restore',
  'compare',
  'settings',
  'swap',
  'finish',
] as const;
export type RestorePhase = (typeof RESTORE_PHASES)[number];

function phaseOf(line: string): RestorePhase | undefined {
  const step = /^\w+ +step (.+?): (started|ok|failed|warning|skipped)(?: - | \(|$)/.exec(line.slice(25));
  if (!step) return undefined;
  const [, name, state] = step as unknown as [string, string, string];
  if (name.startsWith('swap ')) return state === 'started' ? 'swap' : 'finish';
  if (state !== 'started') return undefined;
  if (name === 'check backup') return 'check backup';
  if (name.startsWith('check ')) return 'check server';
  if (name.startsWith('create database ')) return 'create';
  if (name.startsWith('pg_restore ')) return 'pg_restore';
  if (name.startsWith('compare ')) return 'compare';
  if (name.startsWith('copy settings')) return 'settings';
  return undefined;
}

export function restoreMarks(log: string): Array<{ phase: RestorePhase; at: number }> {
  const marks: Array<{ phase: RestorePhase; at: number }> = [];
  for (const line of log.split('\n')) {
    const at = Date.parse(line.slice(0, 24));
    if (Number.isNaN(at)) continue;
    if (!marks.length) marks.push({ phase: 'start-up', at });
    const phase = phaseOf(line);
    if (phase && marks.at(-1)!.phase !== phase) marks.push({ phase, at });
  }
  return marks;
}

export interface RestoreWindow {
  phase: RestorePhase;
  startMs: number;
  endMs: number;
}

function windows(log: string, spawnedAt: number, exitedAt: number): RestoreWindow[] {
  const out: RestoreWindow[] = [];
  let start = 0;
  let phase: RestorePhase = 'before start';
  for (const m of restoreMarks(log)) {
    const at = Math.max(start, m.at - spawnedAt);
    out.push({ phase, startMs: start, endMs: at });
    start = at;
    phase = m.phase;
  }
  out.push({ phase, startMs: start, endMs: Math.max(start, exitedAt - spawnedAt) });
  return out.filter((w) => w.endMs > w.startMs || w.phase === 'swap');
}

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

interface Fixture {
  db: CrashDatabase;
  backupDir: string;
  backupPath: string;
  /** The live database's rows when the restore starts. */
  before: RowSnapshot;
  /** The backup's rows. */
  backupRows: RowSnapshot;
}

/** A v2.3 install with data, its backup, then rows deleted so that the live database and the backup differ. */
async function fixture(server: CrashServer, options: CampaignOptions): Promise<Fixture> {
  const db = await server.createDatabase();
  // An install upkit manages: its upkit.runs is where a restore records itself before it creates its copy.
  await withSession(db.url, async (c) => {
    await buildRelease(c, 'v2.3', { data: options.data });
    await ensureLedger(c);
  });
  const backupDir = mkdtempSync(path.join(tmpdir(), 'upkit-crash-restore-'));
  const backup = await takeBackup(loadConfig({ env: { DATABASE_URL: db.url }, cwd: backupDir }), quiet(), {
    backupDir,
    keep: 5,
    upkitVersion: 'crash',
  });
  const backupRows = await withSession(db.url, (c) => rowSnapshot(c));
  await withSession(db.url, (c) =>
    c.query(
      `delete from audit_logs where ctid in (select ctid from ` +
        `audit_logs order by 1 limit (select count(*) / 2 from audit_logs))`,
    ),
  );
  return {
    db,
    backupDir,
    backupPath: backup.path,
    before: await withSession(db.url, (c) => rowSnapshot(c)),
    backupRows,
  };
}

/** The live database and its companions (restore copies, the databases kept before a restore). */
async function serverState(
  adminUrl: string,
  live: string,
): Promise<{ allows: boolean | undefined; copies: string[]; previous: string[] }> {
  return withSession(adminUrl, async (c) => {
    const { rows } = await c.query<{ datname: string; datallowconn: boolean }>(
      `select datname, datallowconn from pg_database where starts_with(datname, $1)`,
      [live],
    );
    return {
      allows: rows.find((r) => r.datname === live)?.datallowconn,
      copies: rows.filter((r) => isCopyName(live, r.datname)).map((r) => r.datname),
      previous: rows.filter((r) => isCopyName(live, r.datname, 'before_restore')).map((r) => r.datname),
    };
  });
}

/** Until no session of upkit (nor its pg_restore) is connected to the live database or its companions. */
async function untilSessionsGone(adminUrl: string, live: string): Promise<void> {
  await withSession(adminUrl, (c) =>
    until(
      async () =>
        (
          await c.query<{ n: number }>(
            `select count(*)::int as n from pg_stat_activity where starts_with(datname, ` +
              `$1) and (application_name like 'upkit %' or application_name in ('pg_restore', ` +
              `'')) and backend_type = 'client backend' and pid <> pg_backend_pid()`,
            [live],
          )
        ).rows[0]!.n === 0,
      { what: `upkit's sessions on ${live} to end after the kill`, everyMs: 25, timeoutMs: 60_000 },
    ),
  );
}

export interface RestoreCalibration {
  totalMs: number;
  windows: RestoreWindow[];
}

export async function calibrateRestore(server: CrashServer, options: CampaignOptions): Promise<RestoreCalibration> {
  await warmUp(options);
  const f = await fixture(server, options);
  try {
    const launch = launchUpgrade({
      launcher: options.launcher,
      entry: 'scripts/restore.ts',
      args: [f.backupPath, '--yes'],
      env: { DATABASE_URL: f.db.url },
      tmpDir: options.tmpDir,
    });
    const r = await launch.done;
    if (r.code !== 0) throw new Error(`calibration restore exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`);
    const w = windows(r.log(), launch.spawnedAt, r.exitedAt);
    rmSync(r.logDir, { recursive: true, force: true });
    return { totalMs: r.exitedAt - launch.spawnedAt, windows: w };
  } finally {
    await dropAll(server.adminUrl, f);
  }
}

async function dropAll(adminUrl: string, f: Fixture): Promise<void> {
  const state = await serverState(adminUrl, f.db.name);
  await withSession(adminUrl, async (c) => {
    for (const name of [...state.copies, ...state.previous])
      await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
  });
  await f.db.drop();
  rmSync(f.backupDir, { recursive: true, force: true });
}

export interface RestoreKillPlan {
  seed: number;
  run: number;
  phaseDraw: number;
  offsetDraw: number;
}

/** Draws of their own (offset from the upgrade campaign's run numbers), so both campaigns replay alone. */
export function drawRestoreRun(seed: number, run: number): RestoreKillPlan {
  const next = runPrng(seed, 100_000 + run);
  return { seed, run, phaseDraw: next(), offsetDraw: next() };
}

/**
 * Half the runs aim at the swap step (one in five of all runs is killed from the server's side instead, see
 * restoreKillAndRecover) (anywhere in its calibrated length: checks, marker, connections off, renames), the rest at any
 * phase.
 */
export function aimRestore(
  plan: RestoreKillPlan,
  cal: RestoreCalibration,
): { aimedAt: RestorePhase; offsetMs: number } {
  const swap = cal.windows.find((w) => w.phase === 'swap');
  if (plan.phaseDraw < 0.5 && swap)
    return { aimedAt: 'swap', offsetMs: Math.round(plan.offsetDraw * (swap.endMs - swap.startMs)) };
  const usable = cal.windows.filter((w) => w.phase !== 'swap');
  const w = usable[Math.floor(((Math.max(0.5, plan.phaseDraw) - 0.5) / 0.5) * usable.length)]!;
  return { aimedAt: w.phase, offsetMs: Math.round(plan.offsetDraw * (w.endMs - w.startMs)) };
}

export interface RestoreKillResult {
  plan: RestoreKillPlan;
  /** `connections off`: killed the moment the server showed the live database refusing connections. */
  aimedAt: RestorePhase | 'connections off';
  offsetMs: number;
  /** ms after the spawn, or null when the restore ended first. */
  killedAtMs: number | null;
  /** The phase the killed restore's log had reached. */
  phaseHit: RestorePhase | 'finished';
  /** What the kill left on the server, read before any other command ran. */
  left: 'nothing' | 'a restore copy' | 'the live database refusing connections' | 'the swap done';
  /** What status said (finding codes), and the commands run after it. */
  detected: string[];
  commands: string[];
  /** Upkit commands that changed something until the live database accepted connections. */
  commandsToAccept: number;
  converged: boolean;
  rowsLost: number;
  problems: string[];
}

/** Kills the restore the moment the server shows its live database refusing connections (the swap's window). */
export function killWhileRefusing(adminUrl: string): (launch: Launch, live: string) => Promise<number | null> {
  return async (launch, live) => {
    let ended = false;
    void launch.done.then(() => (ended = true));
    return withSession(adminUrl, async (c) => {
      while (!ended) {
        const { rows } = await c.query<{ ok: boolean }>(
          'select datallowconn as ok from pg_database where datname = $1',
          [live],
        );
        if (rows[0]?.ok === false) {
          launch.killGroup();
          return Date.now() - launch.spawnedAt;
        }
      }
      return null;
    });
  };
}

export async function restoreKillAndRecover(
  server: CrashServer,
  plan: RestoreKillPlan,
  cal: RestoreCalibration,
  options: CampaignOptions,
  kill?: (launch: Launch, live: string) => Promise<number | null>,
): Promise<RestoreKillResult> {
  const f = await fixture(server, options);
  const problems: string[] = [];
  try {
    const aim = aimRestore(plan, cal);
    // One run in five is killed from the server's side, the moment the live database refuses connections.
    kill ??= plan.phaseDraw < 0.2 ? killWhileRefusing(server.adminUrl) : undefined;
    const { aimedAt, offsetMs } = kill ? { aimedAt: 'connections off' as const, offsetMs: 0 } : aim;
    const launch = launchUpgrade({
      launcher: options.launcher,
      entry: 'scripts/restore.ts',
      args: [f.backupPath, '--yes'],
      env: { DATABASE_URL: f.db.url },
      tmpDir: options.tmpDir,
    });
    const killedAtMs = kill
      ? await kill(launch, f.db.name)
      : await killAt(launch, aim.aimedAt, aim.offsetMs, restoreMarks);
    const r = await launch.done;
    const marks = restoreMarks(r.log());
    const phaseHit: RestoreKillResult['phaseHit'] =
      killedAtMs === null ? 'finished' : (marks.at(-1)?.phase ?? 'before start');
    if (killedAtMs === null && r.code !== 0)
      problems.push(`the restore ended by itself with exit ${r.code}: ${r.stderr.slice(-300)}`);
    rmSync(r.logDir, { recursive: true, force: true });
    await untilSessionsGone(server.adminUrl, f.db.name);

    const after = await serverState(server.adminUrl, f.db.name);
    const left: RestoreKillResult['left'] =
      after.allows === false
        ? 'the live database refusing connections'
        : after.copies.length
          ? 'a restore copy'
          : after.previous.length
            ? 'the swap done'
            : 'nothing';

    // The operator's path: status says what is wrong; the command it names puts it right.
    const env = { DATABASE_URL: f.db.url };
    const status = await launchUpgrade({
      launcher: options.launcher,
      entry: 'scripts/status.ts',
      args: ['--json'],
      env,
      tmpDir: options.tmpDir,
    }).done;
    rmSync(status.logDir, { recursive: true, force: true });
    let report: Report | undefined;
    try {
      report = JSON.parse(status.stdout) as Report;
    } catch {
      problems.push(`status wrote no JSON report (exit ${status.code}): ${status.stderr.slice(-300)}`);
    }
    const detected = (report?.findings ?? [])
      .filter((x) => x.code.startsWith('restore.') || x.code.startsWith('database.'))
      .map((x) => x.code);
    const commands: string[] = [];
    let commandsToAccept = 0;
    const named = (report?.findings ?? [])
      .map((x) => x.hint ?? '')
      .find((h) => h.includes('npx zx scripts/restore.ts --recover'));
    if (after.allows === false && !named)
      problems.push(
        `the live database refuses connections and status named no upkit command (exit ` +
          `${status.code}: ${status.stderr.trim().split('\n').slice(-2).join(' | ')})`,
      );
    if (after.copies.length && !named)
      problems.push(`a restore copy is left (${after.copies.join(', ')}) and status did not name it`);
    if (named) {
      const recover = await launchUpgrade({
        launcher: options.launcher,
        entry: 'scripts/restore.ts',
        args: ['--recover'],
        env,
        tmpDir: options.tmpDir,
      }).done;
      rmSync(recover.logDir, { recursive: true, force: true });
      commands.push(`restore.ts --recover: exit ${recover.code}`);
      if (after.allows === false) commandsToAccept = 1;
      if (recover.code !== 0) problems.push(`restore --recover exited ${recover.code}: ${recover.stderr.slice(-300)}`);
    }

    const end = await serverState(server.adminUrl, f.db.name);
    if (end.allows !== true)
      problems.push(`the live database ${end.allows === undefined ? 'is gone' : 'still refuses connections'}`);
    if (end.copies.length) problems.push(`restore copies left: ${end.copies.join(', ')}`);
    let rowsLost = 0;
    if (end.allows === true) {
      const { live, lock } = await withSession(f.db.url, async (c) => ({
        live: await rowSnapshot(c),
        lock: (
          await c.query<{ n: number }>(
            `select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = $1 and ` +
              `objid = $2 and database = (select oid from pg_database where datname = current_database())`,
            [LOCK_KEY.classId, LOCK_KEY.objId],
          )
        ).rows[0]!.n,
      }));
      if (lock) problems.push('the run lock is still held');
      const kept = lostOrChanged(f.before, live);
      if (kept.length) {
        // Swapped: the live database is the backup, and the one it replaced is kept with every row.
        const asBackup = lostOrChanged(f.backupRows, live);
        const previous = end.previous.at(-1);
        const beside = previous
          ? lostOrChanged(
              f.before,
              await withSession(f.db.url.replace(`/${f.db.name}`, `/${previous}`), (c) => rowSnapshot(c)),
            )
          : kept;
        rowsLost = asBackup.length ? Math.min(kept.length, asBackup.length) : beside.length;
        for (const x of (asBackup.length ? kept : beside).slice(0, 3)) problems.push(`row: ${x}`);
      }
    }
    return {
      plan,
      aimedAt,
      offsetMs,
      killedAtMs,
      phaseHit,
      left,
      detected,
      commands,
      commandsToAccept,
      converged: problems.length === 0,
      rowsLost,
      problems,
    };
  } finally {
    await dropAll(server.adminUrl, f).catch(() => {});
  }
}
