// Restoring a checked backup into a new database: created like the live one, filled by
// pg_restore (parallel jobs from a file or directory, one transaction from stdin; see
// restoreJobs.ts; credentials and database name through libpq's environment, never argv),
// then compared with what the manifest says was dumped: row counts per table (each taken
// as soon as pg_restore has committed that table's data) and the schema fingerprint. The
// live database is never written here; a restore that fails or is stopped drops the
// database it created (unless kept for inspection after a mismatch).
import path from 'node:path';
import type { Client } from 'pg';
import type { Config } from '../config.ts';
import { libpqExecArgs } from '../compose.ts';
import { withClient } from '../db.ts';
import { isUpkitError, UpkitError } from '../errors.ts';
import { formatDuration, type Logger } from '../log.ts';
import { formatPgError, isPgError } from '../pgError.ts';
import { libpqEnv } from '../pgEnv.ts';
import { lastLines, type ProcessResult, runProcess } from '../process.ts';
import { redact } from '../redact.ts';
import { diffFingerprints, schemaFingerprint } from '../schema/fingerprint.ts';
import { holdExit } from './cleanup.ts';
import { writeMarker, type RestoreMarker } from './leftovers.ts';
import type { BackupManifest } from './manifest.ts';
import type { CheckedBackup, Restorer } from './restoreCheck.ts';
import {
  copySettingsAndGrants,
  createDatabaseLike,
  databaseExists,
  dropDatabase,
  targetFor,
  withMaintenanceClient,
  type DatabaseFacts,
} from './restoreDb.ts';
import { countRows, listTables } from './run.ts';
import { CountsWhileRestoring, jobArgs, restoreJobs } from './restoreJobs.ts';
import { plural } from '../plural.ts';

export { checkBackup, type CheckedBackup } from './restoreCheck.ts';

export interface RestoreOptions {
  /** `--no-owner --no-privileges`: objects belong to the restoring role, grants are skipped. */
  noOwner?: boolean;
  signal?: AbortSignal;
  /** The database whose owner, locale, settings and grants the new one takes (the live one). */
  like?: DatabaseFacts;
  /** Keep a restored database that differs from its manifest, for inspection (restore --into). */
  keepOnMismatch?: boolean;
  /** Put before step names, e.g. "rehearsal: ". */
  label?: string;
  /** Marks the new database as upkit's restore copy (leftovers.ts), right after it is created. */
  marker?: RestoreMarker;
}

export interface RestoreResult {
  database: string;
  /** pg_restore's own time. */
  restoreMs: number;
  /** pg_restore's parallel jobs; 0: one transaction (archive on stdin). */
  jobs: number;
  tables: number;
  rows: number;
}

const OWNERSHIP = new RegExp(
  'must be owner of|role "[^"]*" does not exist|permission denied to ' +
    'create extension|must be superuser|permission denied to (set|change) ' +
    '(role|owner)|must be (a )?member of role|must be able to SET ROLE',
  'i',
);

/** Part of the hint to an ownership failure; the restore command puts its own command line after it. */
export const NO_OWNER_ADVICE =
  'run the same restore again with --no-owner (objects then belong ' +
  "to the restoring role and the archive's grants are skipped)";

function restoreFailure(database: string, lines: readonly string[], exit: string, noOwner: boolean): UpkitError {
  const at = lines.findIndex((l) => /error:/.test(l));
  const error =
    at === -1
      ? (lines.at(-1) ?? `exit ${exit}`)
      : lines[at]!.replace(/^pg_restore: error: (could not execute query: )?/, '');
  const details = at === -1 ? [] : lines.slice(at + 1, at + 3).filter((l) => l.trim() && !/^pg_restore: /.test(l));
  const entry = lines.find((l) => /from TOC entry/.test(l))?.replace(/^pg_restore: /, '');
  const ownership = OWNERSHIP.test(lines.join('\n'));
  const [code, hint] = !ownership
    ? ['restore.pg_restore_failed', "see the log file for pg_restore's full output"]
    : noOwner
      ? [
          'restore.privileges',
          'the restoring role lacks a privilege the archive needs even with --no-owner (an extension, ' +
            'say): restore as a superuser, or have an administrator create it in template1 first',
        ]
      : [
          'restore.ownership',
          `the archive names roles or needs privileges this server or role lacks: ${NO_OWNER_ADVICE}`,
        ];
  return new UpkitError({
    code,
    exit: 'refused',
    message: redact(`pg_restore failed in ${database}: ${error.replace(/\s+/g, ' ').trim()}`),
    details: [...details, ...(entry ? [entry] : [])].map((l) => redact(l.trim())),
    hint,
  });
}

/** How many of pg_restore's last stderr lines an error is read from (a failed statement is quoted whole). */
const TAIL_LINES = 40;
const TAIL_BYTES = 1024 * 1024;

async function runPgRestore(
  restorer: Restorer,
  file: string,
  jobs: number,
  env: NodeJS.ProcessEnv,
  options: RestoreOptions,
  onLine: (line: string) => void,
): Promise<ProcessResult & { tail: string[] }> {
  // An empty --dbname makes pg_restore connect (instead of printing SQL) while libpq takes
  // the database from PGDATABASE: no connection setting ever appears in argv. Its parallel
  // workers connect the same way.
  const args = [
    '--exit-on-error',
    ...jobArgs(jobs),
    '--no-password',
    '--verbose',
    '--dbname=',
    ...(options.noOwner ? ['--no-owner', '--no-privileges'] : []),
  ];
  const run = {
    env,
    stdout: 'ignore',
    signal: options.signal,
    abort: 'settle',
    onLine,
    stderrTailBytes: TAIL_BYTES,
  } as const;
  const result =
    restorer.kind === 'local'
      ? await runProcess(restorer.pgRestore.path, [...args, file], run)
      : await runProcess(
          restorer.cli.command,
          libpqExecArgs(restorer.cli, restorer.composeFile, restorer.service, ['pg_restore', ...args]),
          { ...run, stdinFile: file },
        );
  return { ...result, tail: lastLines(result.stderr, TAIL_LINES) };
}

export function interrupted(signal: AbortSignal): UpkitError {
  return isUpkitError(signal.reason)
    ? signal.reason
    : new UpkitError({ code: 'interrupted', exit: 'interrupted', message: 'interrupted' });
}

export interface Comparison {
  problems: string[];
  tables: number;
  rows: number;
}

const CAST = new RegExp(
  String.raw`::(?:"[^"]*"|[a-z_][a-z0-9_]*)(?:\.(?:"[^"]*"|[a-z_][a-z0-9_]*))?` +
    String.raw`(?: (?:varying|precision|with|without|time|zone))*(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*`,
  'g',
);

/**
 * A fingerprint line without casts and parentheses. A dump and restore does not always
 * give back the same expression tree: `varchar_col IN ('a', 'b')` stored as
 * `(col)::text = ANY ((ARRAY['a'::varchar, …])::text[])` comes back as
 * `(col)::text = ANY (ARRAY[('a'::varchar)::text, …])`. Lines that differ only so are the
 * same object; column types are compared exactly, as they are not written as casts.
 */
export function deparseInsensitive(line: string): string {
  return line.replace(CAST, '').replace(/[()]/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * What differs between a restored database and its manifest: row counts per table, then
 * schema lines. `counted`: exact counts already taken (while pg_restore ran); the other
 * tables are counted here.
 */
export async function compareWithManifest(
  client: Pick<Client, 'query'>,
  manifest: Pick<BackupManifest, 'tables' | 'fingerprint'>,
  counted: Readonly<Record<string, number>> = {},
): Promise<Comparison> {
  const tables = await listTables(client);
  const key = (t: string) => t.replace(/"/g, '').replace(/[\r\n]/g, ' ');
  const counts = {
    ...(await countRows(
      client,
      tables.filter((t) => counted[key(t)] === undefined),
    )),
  };
  for (const t of tables) if (counted[key(t)] !== undefined) counts[key(t)] = counted[key(t)]!;
  const problems: string[] = [];
  for (const [table, expected] of Object.entries(manifest.tables)) {
    const actual = counts[table];
    if (actual === undefined) problems.push(`table ${table}: missing (the backup has ${plural(expected, 'row')})`);
    else if (actual !== expected) problems.push(`table ${table}: ${plural(actual, 'row')}, the backup has ${expected}`);
  }
  for (const [table, n] of Object.entries(counts))
    if (!(table in manifest.tables)) problems.push(`table ${table}: not in the backup (${plural(n, 'row')})`);
  const diff = diffFingerprints(manifest.fingerprint, await schemaFingerprint(client));
  const reparsed = new Set(diff.extra.map(deparseInsensitive));
  const missing = diff.missing.filter((line) => !reparsed.has(deparseInsensitive(line)));
  const known = new Set(diff.missing.map(deparseInsensitive));
  for (const line of missing) problems.push(`schema: missing ${line}`);
  for (const line of diff.extra.filter((l) => !known.has(deparseInsensitive(l))))
    problems.push(`schema: not in the backup: ${line}`);
  return { problems, tables: Object.keys(counts).length, rows: Object.values(counts).reduce((a, b) => a + b, 0) };
}

function targetExists(database: string): UpkitError {
  return new UpkitError({
    code: 'restore.target_exists',
    exit: 'refused',
    message: `database ${database} already exists`,
    hint: 'choose a new name with --into NAME, or drop that database first; nothing was changed',
  });
}

/** Whatever stopped a restore before anything live changed is a refusal (exit 3), or an interruption. */
function asRefusal(err: unknown, database: string): UpkitError {
  if (isUpkitError(err)) return err;
  const what = isPgError(err)
    ? formatPgError(err)
    : { headline: err instanceof Error ? err.message : String(err), details: [] };
  return new UpkitError({
    code: 'restore.failed',
    exit: 'refused',
    message: `restore into ${database} failed: ${what.headline}`,
    details: what.details,
    hint: 'see the log file for the details',
    cause: err,
  });
}

/**
 * Creates `database` (refused if it exists), restores the backup into it and compares it
 * with the manifest. On any failure the new database is dropped (kept only on a mismatch
 * with `keepOnMismatch`) and an exit-3 error says why: nothing live was touched.
 */
/**
 * A backup taken by an upgrade holds that upgrade's own row in upkit.runs as 'running'. In the
 * restored database that run stopped at the backup, by the restore's doing, not by a crash:
 * it is marked interrupted, with the backup named, so that the next run does not report a
 * crash and support staff read what happened.
 */
async function closeRunsCutByBackup(
  config: Config,
  log: Logger,
  backup: CheckedBackup,
  database: string,
  label: string,
): Promise<void> {
  const closed = await withClient(
    targetFor(config, database),
    config,
    async (c) => {
      if ((await c.query(`select to_regclass('upkit.runs') is not null as ok`)).rows[0]?.ok !== true) return [];
      const { rows } = await c.query<{ command: string; started_at: Date }>(
        `update upkit.runs set status = 'interrupted', finished_at = now(),
                report = coalesce(report, '{}'::jsonb) ` +
          `|| jsonb_build_object('restoredFrom', $1::text, 'note', 'in progress when this backup was taken; ` +
          `the restore brought the database back to that moment')
          where status = 'running' returning command, started_at`,
        [path.basename(backup.path)],
      );
      return rows;
    },
    { applicationName: 'upkit restore' },
  );
  for (const r of closed) {
    log.info(
      `${label}the ${r.command} run started ${r.started_at.toISOString()}` +
        ` was in progress when the backup was taken: marked interrupted in ${database}'s upkit.runs`,
    );
  }
}

export async function restoreInto(
  config: Config,
  log: Logger,
  backup: CheckedBackup,
  database: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const label = options.label ?? '';
  const live = options.like?.name ?? config.migrationDb.database;
  if (options.signal?.aborted) throw interrupted(options.signal);
  // From its creation to its drop, the new database is cleaned up even on a second Ctrl-C.
  const release = holdExit();
  try {
    return await restoreCreated(config, log, backup, database, options, label, live);
  } finally {
    release();
  }
}

async function restoreCreated(
  config: Config,
  log: Logger,
  backup: CheckedBackup,
  database: string,
  options: RestoreOptions,
  label: string,
  live: string,
): Promise<RestoreResult> {
  try {
    await log.step(`${label}create database ${database}`, async (step) => {
      await withMaintenanceClient(config, async (c) => {
        if (await databaseExists(c, database)) throw targetExists(database);
        await createDatabaseLike(c, database, options.like).catch((err: unknown) => {
          throw (err as { code?: string }).code === '42P04' ? targetExists(database) : err;
        });
        if (options.marker) await writeMarker(c, database, options.marker);
      });
      step.detail(
        options.like
          ? `like ${live} (owner ${options.like.owner}, ${options.like.encoding}, ${options.like.collate})`
          : 'from template0',
      );
    });
  } catch (err) {
    throw asRefusal(err, database);
  }
  let keep = false;
  const jobs = restoreJobs(backup);
  // Row counts taken while pg_restore runs (parallel mode only: one transaction shows nothing until its end).
  const counting =
    jobs > 0
      ? new CountsWhileRestoring(config, database, (table, rows) =>
          log.debug(`${label}counted ${table} while pg_restore ran: ${plural(rows, 'row')}`),
        )
      : undefined;
  try {
    const env = libpqEnv(config.migrationDb, config, database);
    const restoreMs = await log.step(`${label}pg_restore → ${database}`, async (step) => {
      const t0 = performance.now();
      let done = 0;
      const run = await runPgRestore(backup.restorer, backup.path, jobs, env, options, (line) => {
        log.debug(`pg_restore: ${line}`);
        counting?.onLine(line);
        if (/^pg_restore: (creating|processing data|executing) /.test(line))
          step.progress(`${++done} of ${plural(backup.tocEntries, 'entry')}: ${line.replace(/^pg_restore: /, '')}`);
      });
      if (options.signal?.aborted) throw interrupted(options.signal);
      if (run.code !== 0)
        throw restoreFailure(database, run.tail, String(run.code ?? run.signal), options.noOwner === true);
      const ms = performance.now() - t0;
      step.detail(
        `${plural(backup.tocEntries, 'entry')} in ${formatDuration(ms)}` +
          `${jobs > 0 ? `, ${jobs} jobs` : ', one transaction'}${options.noOwner ? ' (--no-owner)' : ''}`,
      );
      return ms;
    });
    const comparison = await log.step(`${label}compare with the manifest`, async (step) => {
      const counted = (await counting?.settle()) ?? {};
      const result = await withClient(
        targetFor(config, database),
        config,
        (c) => compareWithManifest(c, backup.manifest, counted),
        { applicationName: 'upkit restore' },
      );
      if (result.problems.length) {
        keep = options.keepOnMismatch === true;
        throw new UpkitError({
          code: 'restore.mismatch',
          exit: 'refused',
          message:
            `the restored database ${database} differs from the backup's ` +
            `manifest in ${plural(result.problems.length, 'place')}`,
          details: result.problems
            .slice(0, 20)
            .concat(result.problems.length > 20 ? [`… and ${result.problems.length - 20} more`] : []),
          hint: keep
            ? `${database} is kept for inspection; drop it when done. ${live} was not changed`
            : `${database} was dropped; ${live} was not changed`,
        });
      }
      step.detail(
        `${plural(result.tables, 'table')}, ${plural(result.rows, 'row')}` +
          ` and ${plural(backup.manifest.fingerprint.length, 'schema line')} as in the manifest`,
      );
      return result;
    });
    await closeRunsCutByBackup(config, log, backup, database, label);
    if (options.like) {
      const like = options.like;
      await log.step(`${label}copy settings and grants of ${live}`, async (step) => {
        const copied = await withMaintenanceClient(config, (c) => copySettingsAndGrants(c, like, database));
        step.detail(
          `owner ${like.owner}, ${plural(copied.settings, 'setting')}, ` +
            `${like.acl ? plural(copied.grants, 'grant') : 'default grants'}` +
            `${like.connectionLimit !== -1 ? `, connection limit ${like.connectionLimit}` : ''}`,
        );
      });
    }
    if (options.signal?.aborted) throw interrupted(options.signal);
    return { database, restoreMs: Math.round(restoreMs), jobs, tables: comparison.tables, rows: comparison.rows };
  } catch (err) {
    await counting?.close();
    if (keep) throw asRefusal(err, database);
    const dropped = await dropDatabase(config, database).then(
      () => true,
      (dropErr: unknown) => {
        log.warn(
          `could not drop ${database}: ` +
            `${dropErr instanceof Error ? dropErr.message : String(dropErr)}; drop it by hand`,
        );
        return false;
      },
    );
    const outcome = `${dropped ? `${database} was dropped` : `${database} is left behind`}; ${live} was not changed`;
    if (options.signal?.aborted) {
      log.info(outcome);
      throw interrupted(options.signal);
    }
    const refusal = asRefusal(err, database);
    if (refusal.hint?.includes(`${live} was not changed`)) throw refusal;
    throw new UpkitError({
      code: refusal.code,
      exit: refusal.exit,
      message: refusal.message,
      details: refusal.details,
      hint: `${refusal.hint ? `${refusal.hint}; ` : ''}${outcome}`,
      cause: refusal.cause,
    });
  }
}
