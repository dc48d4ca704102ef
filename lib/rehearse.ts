// A rehearsal: the backup just taken is restored into a scratch database on the same
// server, checked against its manifest like any restore, and handed to the caller (the
// engine upgrades it there first). The scratch database is always dropped afterwards:
// when fn succeeds, throws, or the run is interrupted.
import type { Config, DbTarget } from './config.ts';
import type { BackupManifest } from './backup/manifest.ts';
import { interrupted, restoreInto } from './backup/restore.ts';
import { checkBackup } from './backup/restoreCheck.ts';
import {
  dropDatabase,
  freeName,
  mayActAs,
  readDatabaseFacts,
  targetFor,
  withMaintenanceClient,
} from './backup/restoreDb.ts';
import { psqlCommand, sqlIdent } from './backup/swap.ts';
import { hostname } from 'node:os';
import { processAlive } from './processAlive.ts';
import { newMarker, serverIdentifier, type RestoreMarker } from './backup/leftovers.ts';
import { withClient } from './db.ts';
import type { ReportBuilder } from './report.ts';
import { companionName } from './backup/restoreDb.ts';
import { UpkitError } from './errors.ts';
import type { Logger } from './log.ts';
import type { Client } from 'pg';
import { plural } from './plural.ts';

export interface RehearsalOptions {
  /** Aborting stops the restore, stops waiting for fn, and drops the scratch database. */
  signal?: AbortSignal;
  noOwner?: boolean;
  now?: Date;
  /**
   * Called with the scratch database's name and marker before it is created: a rehearsal
   * killed between CREATE DATABASE and its marker is still proven upkit's by what this wrote.
   */
  record?: (database: string, marker: RestoreMarker) => Promise<void>;
}

export interface Rehearsal<T> {
  result: T;
  /** Check, restore and fn (the drop comes after). */
  durationMs: number;
  /** The scratch database's name (gone by the time this is returned). */
  database: string;
  /** pg_restore's share of it. */
  restoreMs: number;
}

/** fn's outcome, or the interruption as soon as the signal fires (fn's sessions end when the database is dropped). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted(signal));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A rehearsal restores into a database of its own: a role that may not create one is refused
 * before the backup is taken and before anything is recorded (checked on any connection).
 */
export async function assertMayRehearse(client: Pick<Client, 'query'>, config: Config): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>(
    `select rolcreatedb or rolsuper as ok from pg_roles where rolname = current_user`,
  );
  if (rows[0]?.ok === true) return;
  const user = config.migrationDb.user;
  throw new UpkitError({
    code: 'rehearse.createdb',
    exit: 'refused',
    message:
      `--rehearse restores the backup into a scratch database, and role "${user}" may ` +
      `not create databases (no CREATEDB); nothing was changed, no backup was taken`,
    hint:
      `have an administrator run: ALTER ROLE ${sqlIdent(user)} CREATEDB; ` +
      `then run npx zx upgrade.ts --rehearse again (or run it without --rehearse)`,
  });
}

export async function withRehearsal<T>(
  config: Config,
  log: Logger,
  backup: { path: string; manifest: BackupManifest },
  fn: (scratch: DbTarget) => Promise<T>,
  options: RehearsalOptions = {},
): Promise<Rehearsal<T>> {
  const started = performance.now();
  const live = config.migrationDb.database;
  const checked = await log.step('rehearsal: check backup', async (step) => {
    const b = await checkBackup(config, backup.path, backup.manifest);
    step.detail(`${plural(b.tocEntries, 'entry')}, sha256 as in the manifest`);
    return b;
  });
  const { database, like, server } = await withMaintenanceClient(config, async (c) => {
    const facts = await readDatabaseFacts(c, live);
    return {
      database: await freeName(c, live, 'rehearsal', options.now ?? new Date()),
      like: facts && (await mayActAs(c, facts.owner)) ? facts : undefined,
      server: await serverIdentifier(c),
    };
  });
  const marker = newMarker(live, server, backup.path);
  // Recorded before CREATE DATABASE, marked right after it (server, host, pid): one killed with
  // kill -9 at any point is proven upkit's and dropped by the next run.
  await options.record?.(database, marker);
  try {
    const restored = await restoreInto(config, log, checked, database, {
      like,
      signal: options.signal,
      noOwner: options.noOwner,
      label: 'rehearsal: ',
      marker,
    });
    const result = await untilAborted(
      Promise.resolve().then(() => fn(targetFor(config, database))),
      options.signal,
    );
    return { result, durationMs: Math.round(performance.now() - started), database, restoreMs: restored.restoreMs };
  } finally {
    await log
      .step(`rehearsal: drop ${database}`, () => dropDatabase(config, database))
      .catch((err: unknown) => {
        log.warn(
          `the scratch database ${database} could not be dropped (` +
            `${err instanceof Error ? err.message : String(err)}); drop it by hand: ` +
            `${psqlCommand(config.migrationDb, [`DROP DATABASE IF EXISTS ${sqlIdent(database)} WITH (FORCE)`])}`,
        );
      });
  }
}

const MARKER = 'upkit restore copy ';

/** Names the scratch database in the run's row of upkit.runs (client on the live database), before it is created. */
export async function recordRehearsal(
  c: Pick<Client, 'query'>,
  runId: string,
  database: string,
  marker: RestoreMarker,
): Promise<void> {
  await c.query(
    `update upkit.runs set report = coalesce(report, '{}'::jsonb) ` +
      `|| jsonb_build_object('rehearsal', $2::text, 'rehearsalMarker', $3::jsonb) where id = $1`,
    [runId, database, JSON.stringify(marker)],
  );
}

type Marker = { live?: string; server?: string | null; host?: string; pid?: number };

/** Scratch databases named by runs of the live database that did not finish (empty when it cannot be read). */
async function recordedRehearsals(config: Config): Promise<Map<string, Marker>> {
  return withClient(
    config.migrationDb,
    config,
    async (c) => {
      if ((await c.query(`select to_regclass('upkit.runs') is not null as ok`)).rows[0]?.ok !== true)
        return new Map<string, Marker>();
      const { rows } = await c.query<{ name: string; marker: Marker }>(
        `select report->>'rehearsal' as name, report->'rehearsalMarker' as marker from ` +
          `upkit.runs where status in ('running', 'crashed') and report ? 'rehearsal'`,
      );
      return new Map(rows.map((r) => [r.name, r.marker]));
    },
    { applicationName: 'upkit status' },
  ).catch(() => new Map<string, Marker>());
}

export interface ScratchLeftover {
  name: string;
  /**
   * Name and marker prove it upkit's, for this server and database, made by a process of this host that no longer runs,
   * with no session in it.
   */
  gone: boolean;
  marker: Marker | undefined;
}

/**
 * Scratch databases of `kind` (`<db>_<kind>_<UTC stamp>`, marked right after CREATE DATABASE)
 * that no running process of this host owns: the rehearsals' and the shadow databases'. Best
 * effort: a server whose databases this role may not list hides none of upkit's work.
 */
export async function scratchLeftovers(config: Config, kind: 'rehearsal' | 'shadow'): Promise<ScratchLeftover[]> {
  const live = config.migrationDb.database;
  const recorded = kind === 'rehearsal' ? await recordedRehearsals(config) : new Map<string, Marker>();
  const pattern = new RegExp(`_${kind}_(\\d{4})(\\d\\d)(\\d\\d)t(\\d\\d)(\\d\\d)(\\d\\d)z(?:_(\\d+))?$`);
  return withMaintenanceClient(config, async (c) => {
    const server = await serverIdentifier(c);
    // Sessions of upkit's own (its pg_restore, its migrations) in a scratch database whose run is
    // gone are that run's, ending or orphaned: they do not make the database someone else's.
    const { rows } = await c.query<{ datname: string; comment: string | null; sessions: number }>(
      `select d.datname, shobj_description(d.oid, 'pg_database') as comment,
              (select count(*)::int from pg_stat_activity a where a.datname = d.datname ` +
        `and a.backend_type = 'client backend' and a.application_name not like 'upkit%') as sessions
         from pg_database d where d.datname like $1 order by 1`,
      [`%\\_${kind}\\_%`],
    );
    return rows.flatMap((r) => {
      const m = pattern.exec(r.datname);
      if (!m) return [];
      const at = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
      if (companionName(live, kind, at, m[7] ? Number(m[7]) : 1) !== r.datname) return [];
      let marker: Marker | undefined;
      try {
        marker = r.comment?.startsWith(MARKER) ? JSON.parse(r.comment.slice(MARKER.length)) : undefined;
      } catch {
        marker = undefined;
      }
      // Killed between CREATE DATABASE and its marker: the run's row in the live database names it.
      marker ??= recorded.get(r.datname);
      const proven =
        marker !== undefined && marker.live === live && marker.server === server && typeof marker.pid === 'number';
      const running = proven && marker!.host === hostname() && processAlive(marker!.pid!);
      const gone = proven && marker!.host === hostname() && !running && r.sessions === 0;
      return running ? [] : [{ name: r.datname, gone, marker }];
    });
  }).catch(() => []);
}

/**
 * Scratch databases of rehearsals that were killed (kill -9, a lost machine): dropped only
 * when name and marker prove them upkit's, for this server and database, made by a process
 * of this host that no longer runs, with no session left in them; any other is named with
 * the command that drops it. `drop` false (a dry run, status): only named.
 */
export async function leftoverRehearsals(
  config: Config,
  log: Pick<Logger, 'warn' | 'info'>,
  report: Pick<ReportBuilder, 'finding'>,
  drop: boolean,
): Promise<string[]> {
  const dropped: string[] = [];
  const found = await scratchLeftovers(config, 'rehearsal');
  for (const f of found) {
    const command = psqlCommand(config.migrationDb, [`DROP DATABASE IF EXISTS ${sqlIdent(f.name)} WITH (FORCE)`]);
    if (f.gone && drop) {
      await dropDatabase(config, f.name);
      dropped.push(f.name);
      const message =
        `dropped ${f.name}, the scratch database of a rehearsal that was ` +
        `stopped (pid ${f.marker!.pid} on ${f.marker!.host} no longer runs)`;
      report.finding('info', 'rehearse.leftover_dropped', message);
      log.info(message);
    } else {
      const message = f.gone
        ? `${f.name} is the scratch database of a rehearsal that was stopped (pid ` +
          `${f.marker!.pid} on ${f.marker!.host} no longer runs): the next upgrade drops it`
        : `${f.name} looks like the scratch database of a stopped rehearsal: upkit cannot prove ` +
          `it made it on this host for this server (no marker, another host, or sessions in it)`;
      const hint = f.gone ? `to drop it now: ${command}` : `if nothing uses it, drop it: ${command}`;
      report.finding('warning', 'rehearse.leftover', message, hint);
      log.warn(`${message}\n  → ${hint}`);
    }
  }
  return dropped;
}
