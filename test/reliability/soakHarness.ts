// The soak: many no-op upgrades and verifies, one after the other, against one database that
// is already at the latest release. After every run it reads what a slow leak would grow:
// rows in upkit.runs, sessions in pg_stat_activity, advisory locks, prepared transactions,
// the server's temporary files, files left in the runs' TMPDIR, backups, log files.
import { mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runUpkit, type RunResult } from '../support/cli.ts';
import { buildRelease } from '../support/releases.ts';
import { plural } from '../../lib/plural.ts';

export interface SoakOptions {
  /** Superuser URL of the database to soak (created and filled by prepareSoakDatabase). */
  url: string;
  runs: number;
  /** UPKIT_LOG_KEEP for the runs (default: unset, so 100): the log folder never holds more. */
  logKeep?: number;
  /** Called after each run with its line, for progress. */
  onRun?: (sample: SoakSample) => void;
}

export interface ServerCounts {
  runsRows: number;
  sessions: number;
  advisoryLocks: number;
  preparedXacts: number;
  serverTempFiles: number;
}

export interface SoakSample extends ServerCounts {
  index: number;
  command: 'upgrade' | 'verify';
  code: number | null;
  durationMs: number;
  /** Files in TMPDIR apart from the TypeScript loader's compile cache. */
  tmpFiles: number;
  /** The loader's compile cache (tsx-<uid>/): filled by the first runs, then stable. */
  loaderCacheFiles: number;
  backupFiles: number;
  logFiles: number;
  logBytes: number;
}

export interface SoakResult {
  baseline: ServerCounts;
  samples: SoakSample[];
  /** Each a sentence naming the run and what grew; empty when the soak is clean. */
  problems: string[];
  upgradeMs: number[];
  verifyMs: number[];
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else out.push(full);
  }
  return out;
}

/** Pulse v1.0 with data, upgraded once to the latest release: the state every soak run starts from. */
/** `upgradeArgs`: e.g. `--no-backup` where no pg_dump here can dump the server (the version matrix). */
export async function prepareSoakDatabase(url: string, upgradeArgs: readonly string[] = []): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  c.on('notice', () => {});
  try {
    await buildRelease(c, 'v1.0', { data: { users: 40 } });
  } finally {
    await c.end();
  }
  const backups = mkdtempSync(path.join(tmpdir(), 'upkit-soak-first-'));
  const first = await runUpkit('upgrade.ts', ['--yes', '--json', '--no-containers', ...upgradeArgs], {
    env: { DATABASE_URL: url, BACKUP_DIR: backups },
  });
  if (first.code !== 0)
    throw new Error(`the first upgrade, before the soak, failed (exit ${first.code}):\n${first.stderr}`);
}

/** Counts on the server, from a monitoring session that leaves itself out. Sessions, advisory
 * locks and prepared transactions are the soaked database's: in the normal suite, other test
 * files run upkit (and hold its lock) on their own databases of the same server. */
async function serverCounts(monitor: pg.Client, database: string): Promise<ServerCounts> {
  const { rows } = await monitor.query(
    `select (select count(*) from upkit.runs)::int as runs_rows,
            (select count(*) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid())::int as sessions,
            (select count(*) from pg_locks where locktype = 'advisory' and ` +
      `database = (select oid from pg_database where datname = $1))::int as advisory_locks,
            (select count(*) from pg_prepared_xacts where database = $1)::int as prepared_xacts,
            -- Orphans only: a temporary file whose backend (pgsql_tmp<pid>.<n>) is gone. Live
            -- queries of other databases may hold temporary files of their own for a moment.
            (select count(*) from pg_ls_tmpdir() t
              where not exists (select 1 from pg_stat_activity a where ` +
      `t.name like 'pgsql_tmp' || a.pid || '.%'))::int as server_temp_files`,
    [database],
  );
  const r = rows[0] as Record<string, number>;
  return {
    runsRows: r.runs_rows!,
    sessions: r.sessions!,
    advisoryLocks: r.advisory_locks!,
    preparedXacts: r.prepared_xacts!,
    serverTempFiles: r.server_temp_files!,
  };
}

/** A client's backend may outlive its process by a few milliseconds: wait that long, no more. */
async function settledCounts(monitor: pg.Client, database: string, baseline: ServerCounts): Promise<ServerCounts> {
  let counts = await serverCounts(monitor, database);
  for (
    let i = 0;
    i < 20 && (counts.sessions > baseline.sessions || counts.advisoryLocks > baseline.advisoryLocks);
    i++
  ) {
    await new Promise((r) => setTimeout(r, 50));
    counts = await serverCounts(monitor, database);
  }
  return counts;
}

export async function soak(options: SoakOptions): Promise<SoakResult> {
  const work = mkdtempSync(path.join(tmpdir(), 'upkit-soak-'));
  const dirs = {
    tmp: path.join(work, 'tmp'),
    backups: path.join(work, 'backups'),
    logs: path.join(work, 'logs'),
    cwd: path.join(work, 'cwd'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const database = decodeURIComponent(new URL(options.url).pathname.slice(1));
  const monitor = new pg.Client({ connectionString: options.url, application_name: 'upkit soak monitor' });
  await monitor.connect();
  const problems: string[] = [];
  const samples: SoakSample[] = [];
  try {
    const baseline = await settledCounts(monitor, database, {
      runsRows: 0,
      sessions: 0,
      advisoryLocks: 0,
      preparedXacts: 0,
      serverTempFiles: 0,
    });
    let previousRows = baseline.runsRows;
    const env = {
      DATABASE_URL: options.url,
      TMPDIR: dirs.tmp,
      BACKUP_DIR: dirs.backups,
      UPKIT_LOG_DIR: dirs.logs,
      UPKIT_LOG_KEEP: options.logKeep?.toString(),
    };
    const logKeep = options.logKeep ?? 100;
    for (let index = 1; index <= options.runs; index++) {
      for (const command of ['upgrade', 'verify'] as const) {
        const result: RunResult =
          command === 'upgrade'
            ? await runUpkit('upgrade.ts', ['--yes', '--json', '--no-containers'], { env, cwd: dirs.cwd })
            : await runUpkit('verify/index.ts', ['--json'], { env, cwd: dirs.cwd });
        const counts = await settledCounts(monitor, database, baseline);
        const logs = filesUnder(dirs.logs);
        const tmp = filesUnder(dirs.tmp);
        const isLoaderCache = (f: string) => /^tsx-\d+$/.test(path.relative(dirs.tmp, f).split(path.sep)[0]!);
        const sample: SoakSample = {
          index,
          command,
          code: result.code,
          durationMs: result.durationMs,
          ...counts,
          tmpFiles: tmp.filter((f) => !isLoaderCache(f)).length,
          loaderCacheFiles: tmp.filter(isLoaderCache).length,
          backupFiles: filesUnder(dirs.backups).length,
          logFiles: logs.length,
          logBytes: logs.reduce((n, f) => n + statSync(f).size, 0),
        };
        samples.push(sample);
        options.onRun?.(sample);
        const at = `run ${index} (${command})`;
        if (result.code !== 0)
          problems.push(`${at} exited ${result.code}: ${result.stderr.trim().split('\n').at(-2) ?? ''}`);
        if (command === 'upgrade' && result.code === 0) {
          const report = result.json();
          if (report.applied.length > 0 || report.backup !== null)
            problems.push(`${at} was not a no-op: it applied ${report.applied.length} entries`);
        }
        if (counts.runsRows - previousRows > 1)
          problems.push(`${at} added ${counts.runsRows - previousRows} rows to upkit.runs`);
        previousRows = counts.runsRows;
        if (counts.sessions > baseline.sessions)
          problems.push(`${at} left ${plural(counts.sessions - baseline.sessions, 'session')} open`);
        if (counts.advisoryLocks > baseline.advisoryLocks)
          problems.push(`${at} left ${counts.advisoryLocks - baseline.advisoryLocks} advisory lock(s) held`);
        if (counts.preparedXacts > baseline.preparedXacts) problems.push(`${at} left a prepared transaction`);
        if (counts.serverTempFiles > baseline.serverTempFiles)
          problems.push(`${at} left ${counts.serverTempFiles} orphaned temporary file(s) on the server`);
        if (sample.tmpFiles > 0) problems.push(`${at} left ${sample.tmpFiles} file(s) in TMPDIR`);
        const cacheBefore = samples.at(-3)?.loaderCacheFiles;
        if (index > 2 && cacheBefore !== undefined && sample.loaderCacheFiles > cacheBefore)
          problems.push(`${at} grew the loader's compile cache to ${sample.loaderCacheFiles} files`);
        if (sample.logFiles > logKeep)
          problems.push(`${at} left ${sample.logFiles} log files (UPKIT_LOG_KEEP ${logKeep})`);
        if (sample.backupFiles > 0) problems.push(`${at} wrote a backup although nothing was pending`);
      }
      if (problems.length > 20) break;
    }
    const durations = (command: SoakSample['command']) =>
      samples.filter((s) => s.command === command).map((s) => s.durationMs);
    return { baseline, samples, problems, upgradeMs: durations('upgrade'), verifyMs: durations('verify') };
  } finally {
    await monitor.end();
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
