// What an in-place restore that was stopped (kill -9, a lost machine) can leave behind, and
// how the next command finds it: a `<db>_restore_<UTC time>` copy, and, when it was stopped
// inside its swap, the live database refusing connections. upkit marks each copy it makes
// with a COMMENT ON DATABASE naming the live database, the server and the run; only a copy
// whose name and marker both prove it is upkit's, for this server and database, is ever
// dropped or allowed to decide that the live database's connections go back on.
import { hostname } from 'node:os';
import { processAlive } from '../processAlive.ts';
import type { Client } from 'pg';
import type { Config } from '../config.ts';
import { lockApplicationName, LOCK_KEY, withClient } from '../db.ts';
import { startRun } from '../ledger.ts';
import { isUpkitError, UpkitError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sqlIdent, sqlLiteral } from '../quote.ts';
import { companionName, withMaintenanceClient } from './restoreDb.ts';
import { dropCommand, psqlCommand } from './swap.ts';
import { plural } from '../plural.ts';

type ConnSettings = Pick<Config, 'migrationDb' | 'ssl' | 'sslCa' | 'connectTimeoutMs'>;

const MARKER = 'upkit restore copy ';
export const RECOVER_COMMAND = 'npx zx scripts/restore.ts --recover';

export interface RestoreMarker {
  /** The database the copy was made to replace. */
  live: string;
  /** pg_control_system()'s system_identifier, or null where the role may not read it. */
  server: string | null;
  /** `restoring` until the swap begins, then `swap`. */
  stage: 'restoring' | 'swap';
  host: string;
  pid: number;
  startedAt: string;
  backup: string;
}

export async function serverIdentifier(c: Pick<Client, 'query'>): Promise<string | null> {
  try {
    return (
      (await c.query<{ id: string }>('select system_identifier::text as id from pg_control_system()')).rows[0]?.id ??
      null
    );
  } catch {
    return null;
  }
}

export function newMarker(live: string, server: string | null, backup: string): RestoreMarker {
  return {
    live,
    server,
    stage: 'restoring',
    host: hostname(),
    pid: process.pid,
    startedAt: new Date().toISOString(),
    backup,
  };
}

export async function writeMarker(c: Pick<Client, 'query'>, database: string, marker: RestoreMarker): Promise<void> {
  await c.query(`comment on database ${sqlIdent(database)} is ${sqlLiteral(MARKER + JSON.stringify(marker))}`);
}

function parseMarker(comment: string | null): RestoreMarker | undefined {
  if (!comment?.startsWith(MARKER)) return undefined;
  try {
    const m = JSON.parse(comment.slice(MARKER.length)) as RestoreMarker;
    return typeof m.live === 'string' && typeof m.pid === 'number' ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `name` is a restore copy's name for `live` (`companionName`, whatever its stamp and attempt). */
export function isCopyName(live: string, name: string, kind: 'restore' | 'before_restore' = 'restore'): boolean {
  const m = /_restore_(\d{4})(\d\d)(\d\d)t(\d\d)(\d\d)(\d\d)z(?:_(\d+))?$/.exec(name);
  if (!m) return false;
  const at = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return companionName(live, kind, at, m[7] ? Number(m[7]) : 1) === name;
}

/** The newest `<live>_before_restore_<UTC time>`: the database as it was before the last in-place restore. */
export async function keptBeforeRestore(c: Pick<Client, 'query'>, live: string): Promise<string | undefined> {
  const { rows } = await c.query<{ datname: string }>(
    `select datname from pg_database where datname like '%\\_before\\_restore\\_%'`,
  );
  return rows
    .map((r) => r.datname)
    .filter((n) => isCopyName(live, n, 'before_restore'))
    .sort((a, b) =>
      (/_(\d{8}t\d{6}z)(?:_(\d+))?$/.exec(a)![1]! + a).localeCompare(/_(\d{8}t\d{6}z)(?:_(\d+))?$/.exec(b)![1]! + b),
    )
    .at(-1);
}

export interface RestoreCopy {
  name: string;
  /** The name and a marker for this database and server: upkit made it. */
  proven: boolean;
  marker: RestoreMarker | undefined;
  /** Its restore still runs (its process is alive on this host). */
  running: boolean;
}

export interface RestoreState {
  live: string;
  /** undefined: the live database does not exist. */
  liveAllowsConnections: boolean | undefined;
  copies: RestoreCopy[];
}

/** Read-only, from any database of the server (pg_database is shared). */
export async function readRestoreState(
  c: Pick<Client, 'query'>,
  live: string,
  recorded: ReadonlyMap<string, RestoreMarker> = new Map(),
): Promise<RestoreState> {
  const server = await serverIdentifier(c);
  const { rows } = await c.query<{ datname: string; datallowconn: boolean; comment: string | null }>(
    `select datname, datallowconn, shobj_description(oid, 'pg_database') as comment from ` +
      `pg_database where datname = $1 or datname like '%\\_restore\\_%' order by datname`,
    [live],
  );
  // A restore in place holds the run lock on the live database from its start to its swap.
  const { rows: holders } = await c.query<{ app: string }>(
    `select a.application_name as app from pg_locks l join pg_stat_activity ` +
      `a on a.pid = l.pid join pg_database d on d.oid = l.database
      where l.locktype = 'advisory' and l.granted and l.classid = $2 and l.objid = $3 and d.datname = $1`,
    [live, LOCK_KEY.classId, LOCK_KEY.objId],
  );
  const restoring = holders.some((h) => h.app.startsWith('upkit restore ') && h.app !== lockApplicationName('restore'));
  const copies: RestoreCopy[] = [];
  for (const r of rows) {
    if (r.datname === live || !isCopyName(live, r.datname)) continue;
    // Killed during CREATE DATABASE, before its marker: the run's row in the live database names it.
    const marker = parseMarker(r.comment) ?? recorded.get(r.datname);
    const proven = marker !== undefined && marker.live === live && marker.server === server;
    copies.push({
      name: r.datname,
      proven,
      marker,
      running:
        proven &&
        marker!.pid !== process.pid &&
        (restoring || (marker!.host === hostname() && processAlive(marker!.pid))),
    });
  }
  return { live, liveAllowsConnections: rows.find((r) => r.datname === live)?.datallowconn, copies };
}

const who = (m: RestoreMarker) => `pid ${m.pid} on ${m.host}, started ${m.startedAt}`;

/** The live database refuses connections: why, and the command that puts it right. */
export function refusingError(config: Pick<Config, 'migrationDb'>, state: RestoreState): UpkitError {
  const stopped = state.copies.find((c) => c.proven && !c.running && c.marker?.stage === 'swap');
  if (stopped) {
    return new UpkitError({
      code: 'restore.interrupted_swap',
      exit: 'refused',
      message:
        `database ${state.live} refuses connections: an in-place restore (${who(stopped.marker!)}` +
        `) was stopped during its swap, before anything was renamed`,
      hint: `put it back as it was (connections on, the copy ${stopped.name} dropped): ${RECOVER_COMMAND}`,
    });
  }
  return new UpkitError({
    code: 'database.refuses_connections',
    exit: 'refused',
    message:
      `database ${state.live} refuses connections (ALLOW_CONNECTIONS is off), ` +
      `and no restore of upkit's was stopped in its swap`,
    hint:
      `if nobody turned it off on purpose, turn it on: ` +
      `${psqlCommand(config.migrationDb, [`ALTER DATABASE ${sqlIdent(state.live)} WITH ALLOW_CONNECTIONS true`])}`,
  });
}

export interface LeftoverFinding {
  code: string;
  message: string;
  hint: string;
}

/** A warning for each copy left by a restore that no longer runs. */
export function leftoverFindings(config: Pick<Config, 'migrationDb'>, state: RestoreState): LeftoverFinding[] {
  return state.copies
    .filter((c) => !c.running)
    .map((c) =>
      c.proven
        ? {
            code: 'restore.leftover',
            message:
              `database ${c.name} is left from an in-place restore ` +
              `of ${state.live} that was stopped (${who(c.marker!)})`,
            hint: `the next restore drops it; to drop it now: ${RECOVER_COMMAND}`,
          }
        : {
            code: 'restore.leftover_unproven',
            message:
              `database ${c.name} is named like a restore copy of ${state.live}, ` +
              `but upkit cannot prove it made it (no marker of this server and database)`,
            hint:
              `upkit leaves it alone; if it is a copy you no longer need: ` +
              `${dropCommand(config.migrationDb, c.name)}`,
          },
    );
}

/**
 * Before an in-place restore creates its copy, it records itself in the live database's
 * upkit.runs (on its lock session), naming the copy: a restore killed while CREATE DATABASE
 * runs, before the copy has its marker, is still proven upkit's by that row. A database
 * upkit never ran on has no upkit.runs, and none is created for this: there, such a copy
 * stays unproven (listed, with the command that drops it). Returns whether it was recorded.
 */
export async function recordRestore(
  c: Pick<Client, 'query'>,
  run: {
    id: string;
    copy: string;
    marker: RestoreMarker;
    releaseFrom: string | null;
    releaseTo: string | null;
    toolVersion: string;
  },
): Promise<boolean> {
  if ((await c.query(`select to_regclass('upkit.runs') is not null as ok`)).rows[0]?.ok !== true) return false;
  await startRun(c, {
    id: run.id,
    command: 'restore',
    releaseFrom: run.releaseFrom,
    releaseTo: run.releaseTo,
    toolVersion: run.toolVersion,
  });
  await c.query(
    `update upkit.runs set report = jsonb_build_object('restoreCopy', $2::text, 'marker', $3::jsonb) where id = $1`,
    [run.id, run.copy, JSON.stringify(run.marker)],
  );
  return true;
}

/** Ends the restore's row where it now is (the live database, or the one kept beside it after the swap). */
export async function finishRestore(config: ConnSettings, database: string, id: string, status: string): Promise<void> {
  await withClient(
    { ...config.migrationDb, database },
    config,
    (c) => c.query(`update upkit.runs set status = $2, finished_at = now() where id = $1`, [id, status]),
    { applicationName: 'upkit restore' },
  ).catch(() => {});
}

/** Copies named by restores recorded in the live database (client connected to it) that did not finish. */
async function recordedOn(c: Pick<Client, 'query'>): Promise<Map<string, RestoreMarker>> {
  if ((await c.query(`select to_regclass('upkit.runs') is not null as ok`)).rows[0]?.ok !== true) return new Map();
  const { rows } = await c.query<{ copy: string; marker: RestoreMarker }>(
    `select report->>'restoreCopy' as copy, report->'marker' as marker from upkit.runs where ` +
      `command = 'restore' and status in ('running', 'crashed') and report ? 'restoreCopy'`,
  );
  return new Map(rows.map((r) => [r.copy, r.marker]));
}

/** The same, on a connection of its own (empty when the live database cannot be read). */
function recordedCopies(config: ConnSettings): Promise<Map<string, RestoreMarker>> {
  return withClient(config.migrationDb, config, recordedOn, { applicationName: 'upkit restore' }).catch(
    () => new Map<string, RestoreMarker>(),
  );
}

/**
 * The state, read from the live database itself; from the maintenance database only when
 * the live one refuses connections. Other connection failures are the caller's to report:
 * they are thrown as the command's own connection would throw them.
 */
export async function lookForInterruptedRestore(config: ConnSettings): Promise<RestoreState> {
  const live = config.migrationDb.database;
  try {
    return await withClient(config.migrationDb, config, async (c) => readRestoreState(c, live, await recordedOn(c)), {
      applicationName: 'upkit status',
    });
  } catch (err) {
    if (!(isUpkitError(err) && err.code === 'db.not_accepting')) throw err;
    return withMaintenanceClient(config, (c) => readRestoreState(c, live)).catch(() => {
      throw err;
    });
  }
}

type FindingSink = { finding(severity: 'warning', code: string, message: string, hint?: string): unknown };

function warnLeftovers(
  config: ConnSettings,
  state: RestoreState,
  log: Pick<Logger, 'warn' | 'info'>,
  report: FindingSink,
): LeftoverFinding[] {
  const found = leftoverFindings(config, state);
  for (const f of found) {
    report.finding('warning', f.code, f.message, f.hint);
    log.warn(f.message);
    log.info(`  → ${f.hint}`);
  }
  return found;
}

/**
 * What status and upgrade call before they connect to the live database: warns of each
 * copy left behind and refuses (exit 3) when the live database refuses connections, saying
 * why and what puts it right.
 */
export async function checkInterruptedRestore(
  config: ConnSettings,
  log: Pick<Logger, 'warn' | 'info'>,
  report: FindingSink,
): Promise<void> {
  // A missing database is the command's to handle (install creates it).
  const state = await lookForInterruptedRestore(config).catch((err: unknown) => {
    if (isUpkitError(err) && err.code === 'db.missing') return undefined;
    throw err;
  });
  if (!state) return;
  // Refusing connections is the one thing to put right; its message names the copy.
  if (state.liveAllowsConnections === false) throw refusingError(config, state);
  warnLeftovers(config, state, log, report);
}

/**
 * Preflight's check: the same, as a step. `connected` says whether preflight's own
 * connection worked; when it failed for another reason than refused connections there is
 * nothing to look at. Returns the refusal for preflight to fail the step with.
 */
export async function preflightRestoreCheck(
  config: ConnSettings,
  connected: boolean,
  step: { detail(text: string): void; skip(text: string): void },
  log: Pick<Logger, 'warn' | 'info'>,
  report: FindingSink & { findings: ReadonlyArray<{ code: string }> },
): Promise<UpkitError | undefined> {
  if (!connected && !report.findings.some((f) => f.code === 'preflight.db_not_accepting')) {
    step.skip('no connection');
    return undefined;
  }
  let state: RestoreState;
  try {
    state = await lookForInterruptedRestore(config);
  } catch {
    step.skip('no connection');
    return undefined;
  }
  if (state.liveAllowsConnections === false) return refusingError(config, state);
  const found = warnLeftovers(config, state, log, report);
  step.detail(
    found.length ? `${plural(found.length, 'database')} left by restores that were stopped` : 'none left behind',
  );
  return undefined;
}

/**
 * `restore --recover`, and the first thing every restore does: when a proven copy says its
 * restore was stopped in the swap, the live database accepts connections again; every
 * proven copy whose restore no longer runs is dropped. Returns what was done.
 */
export async function recoverInterruptedRestore(
  config: ConnSettings,
  log: Pick<Logger, 'info'>,
): Promise<{ allowed: boolean; dropped: string[]; state: RestoreState }> {
  const live = config.migrationDb.database;
  const recorded = await recordedCopies(config);
  return withMaintenanceClient(config, async (c) => {
    const state = await readRestoreState(c, live, recorded);
    let allowed = false;
    if (state.liveAllowsConnections === false) {
      if (!state.copies.some((x) => x.proven && !x.running && x.marker?.stage === 'swap'))
        throw refusingError(config, state);
      await c.query(`alter database ${sqlIdent(live)} with allow_connections true`);
      allowed = true;
      log.info(`${live} accepts connections again (an in-place restore had been stopped during its swap)`);
    }
    const dropped: string[] = [];
    for (const copy of state.copies.filter((x) => x.proven && !x.running)) {
      await c.query(`drop database if exists ${sqlIdent(copy.name)} with (force)`);
      dropped.push(copy.name);
      log.info(`dropped ${copy.name}, left by an in-place restore of ${live} that was stopped (${who(copy.marker!)})`);
    }
    return { allowed, dropped, state };
  });
}
