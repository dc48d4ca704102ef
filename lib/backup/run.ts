// Takes a backup that can be trusted: pg_dump in an exported snapshot, so that the row
// counts and fingerprint in the manifest describe exactly what was dumped; one custom-format
// file, or a directory-format folder written by parallel jobs when several tables are large
// (lib/backup/shape.ts). pg_dump starts as soon as the checks that can refuse without
// writing have passed; upkit's own reading of the snapshot runs beside it. Written to a
// partial name, checked (pg_dump's exit status, then pg_restore --list must read the archive
// and name every table), hashed, described in a manifest, and only then given its final
// name. Old backups are pruned only after that.
import { chmodSync, closeSync, fsyncSync, mkdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';
import type { Config } from '../config.ts';
import { libpqExecArgs } from '../compose.ts';
import { connect } from '../db.ts';
import { UpkitError } from '../errors.ts';
import type { Logger, StepControl } from '../log.ts';
import { libpqEnv } from '../pgEnv.ts';
import { type ProcessResult, runProcess } from '../process.ts';
import { detectInstall } from '../profile.ts';
import type { Profile } from '../profileTypes.ts';
import { createPrivateFile } from '../privateFiles.ts';
import { sqlIdent } from '../quote.ts';
import { redact } from '../redact.ts';
import type { ReportBuilder } from '../report.ts';
import { schemaFingerprint } from '../schema/fingerprint.ts';
import {
  archiveBytesNow,
  dumpDirEntries,
  fsyncArchive,
  hashDumpDir,
  listSha256,
  removeDumpDir,
  sha256File,
  type ArchiveFile,
  type ArchiveFormat,
} from './archive.ts';
import {
  applyRetention,
  ARCHIVE_SUFFIX,
  archiveName,
  ensureBackupDir,
  fileNamePart,
  listVerifiedBackups,
  utcStamp,
} from './files.ts';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  manifestPathFor,
  readServerIdentity,
  type BackupManifest,
} from './manifest.ts';
import { reportPartials, reportRetention, warn } from './notices.ts';
import { partialPath, startHeartbeat, sweepPartials } from './partial.ts';
import { chooseFormat, type FormatChoice } from './shape.ts';
import { assertRoomForBackup, estimateBackupBytes, formatBytes } from './space.ts';
import { chooseDumper, findClientBinaries, type Dumper } from './strategy.ts';
import { readToc, tablesMissingFromToc } from './toc.ts';
import { plural } from '../plural.ts';

export const COMPRESSION = 1;

export interface BackupOptions {
  /**
   * Whose release names the archive (the commands choose it); without, the newest applied entry of config.drizzleDir.
   */
  profile?: Profile;
  backupDir: string;
  keep: number;
  signal?: AbortSignal;
  upkitVersion: string;
  /** How long pg_dump waits for its table locks before it gives up (ms). */
  lockWaitMs?: number;
  /** Where warnings about the backup directory also go, as findings of the command's report. */
  report?: ReportBuilder;
}

export interface BackupResult {
  path: string;
  manifestPath: string;
  manifest: BackupManifest;
  removed: string[];
}

export interface DumpedTable {
  /** `schema.table`, each part quoted as SQL needs it. */
  name: string;
  schema: string;
  table: string;
  owner: string;
}

/**
 * The tables whose rows pg_dump writes as a TABLE DATA entry: ordinary tables (a
 * partitioned table's rows are in its partitions), except those an extension owns and
 * does not mark as configuration (pg_dump leaves those to the extension).
 */
export async function listDumpedTables(client: Pick<Client, 'query'>): Promise<DumpedTable[]> {
  const { rows } = await client.query<DumpedTable>(
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name, n.nspname as schema, c.relname as "table",
            pg_get_userbyid(c.relowner) as owner
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
        and not exists (
          select 1 from pg_depend d join pg_extension e on e.oid = d.refobjid
           where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
             and not (c.oid = any (coalesce(e.extconfig, '{}'))))
      order by 1`,
  );
  return rows;
}

export async function listTables(client: Pick<Client, 'query'>): Promise<string[]> {
  return (await listDumpedTables(client)).map((t) => t.name);
}

/** Exact row counts of the given tables in one round trip. */
export async function countRows(
  client: Pick<Client, 'query'>,
  tables: readonly string[],
): Promise<Record<string, number>> {
  if (tables.length === 0) return {};
  const sql = tables.map((t, i) => `select ${i} as i, count(*)::bigint::text as n from ${t}`).join(' union all ');
  const { rows } = await client.query<{ i: number; n: string }>(sql);
  const out: Record<string, number> = {};
  // The key is the name as pg_restore --list prints it (no quotes, line breaks as spaces).
  for (const r of rows) out[tables[r.i]!.replace(/"/g, '').replace(/[\r\n]/g, ' ')] = Number(r.n);
  return out;
}

/** Runs pg_dump (locally, or in the compose service with its output streamed to the file). */
function runDump(
  dumper: Dumper,
  choice: FormatChoice,
  env: NodeJS.ProcessEnv,
  partial: string,
  snapshot: string,
  lockWaitMs: number,
  signal: AbortSignal,
): Promise<ProcessResult> {
  const format = choice.format === 'directory' ? ['--format=directory', `--jobs=${choice.jobs}`] : ['--format=custom'];
  const dumpArgs = [
    ...format,
    `--compress=${COMPRESSION}`,
    `--snapshot=${snapshot}`,
    `--lock-wait-timeout=${lockWaitMs}`,
    '--no-password',
  ];
  const options = { env, signal, abort: 'settle' } as const;
  if (dumper.kind === 'local') {
    return runProcess(dumper.pgDump.path, [...dumpArgs, `--file=${partial}`], { ...options, stdout: 'ignore' });
  }
  const args = libpqExecArgs(dumper.cli, dumper.composeFile, dumper.service, ['pg_dump', ...dumpArgs]);
  return runProcess(dumper.cli.command, args, { ...options, stdout: { file: partial } });
}

function dumpFailure(stderr: string, partial: string, dir: string): UpkitError {
  const text = redact(stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ')) || 'no message';
  if (/No space left on device|could not write/i.test(stderr)) {
    return new UpkitError({
      code: 'backup.disk_full',
      exit: 'refused',
      message: `the disk holding ${dir} filled up while writing the backup; the partial file was removed`,
      hint:
        'free some space or set BACKUP_DIR (or --backup-dir) ' +
        'to a larger disk, then run the command again; nothing was changed',
    });
  }
  if (/permission denied/i.test(stderr)) {
    return new UpkitError({
      code: 'backup.permission',
      exit: 'refused',
      message: `pg_dump was refused: ${text}`,
      hint: 'back up as the database owner or a role that can read every table; nothing was changed',
    });
  }
  if (/lock/i.test(stderr) && /timeout|could not obtain/i.test(stderr)) {
    return new UpkitError({
      code: 'backup.lock_wait',
      exit: 'refused',
      message: `pg_dump could not lock every table: ${text}`,
      hint:
        'a session holds an exclusive lock; find it in pg_stat_activity, ' +
        'then run the command again; nothing was changed',
    });
  }
  return new UpkitError({
    code: 'backup.pg_dump_failed',
    exit: 'refused',
    message: `pg_dump failed: ${text}`,
    hint: `see the log file for pg_dump's full output; ${path.basename(partial)} was removed and nothing was changed`,
  });
}

/** Where a backup's time goes: each phase's milliseconds, for the log file. */
function phaseClock() {
  const t0 = performance.now();
  let last = t0;
  const phases: string[] = [];
  return {
    /** The phase that ended now, timed from the end of the previous one. */
    mark(name: string) {
      const now = performance.now();
      phases.push(`${name} ${Math.round(now - last)}`);
      last = now;
    },
    /** Work that ran beside others, timed from the start. */
    at(name: string) {
      phases.push(`${name} done at ${Math.round(performance.now() - t0)}`);
    },
    text: () => `${phases.join(', ')}; total ${Math.round(performance.now() - t0)} ms`,
  };
}

/**
 * A table pg_dump writes, with the bytes of its rows on disk (pg_table_size), which decide
 * the format. Reading a size takes the table's share lock: a table another session holds
 * locked exclusively is sized from the catalog instead (relpages, as of its last vacuum or
 * analyze), so that the backup's partial file exists and pg_dump waits for the lock, with
 * its own timeout, as it always has.
 */
async function listSizedTables(client: Pick<Client, 'query'>): Promise<Array<DumpedTable & { bytes: number }>> {
  const dumped = await listDumpedTables(client);
  if (!dumped.length) return [];
  const { rows } = await client.query<{ i: number; bytes: string }>(
    `select t.i::int as i,
            case when exists (select 1 from pg_locks l
                               where l.locktype = 'relation' and l.relation = c.oid and l.mode = 'AccessExclusiveLock'
                                 and l.database = (select oid from pg_database where datname = current_database()))
                 then (c.relpages::bigint + coalesce(tc.relpages, 0)) * current_setting('block_size')::bigint
                 else pg_table_size(c.oid) end::text as bytes
       from unnest($1::text[]) with ordinality as t(name, i)
       join pg_class c on c.oid = t.name::regclass
       left join pg_class tc on tc.oid = c.reltoastrelid`,
    [dumped.map((t) => t.name)],
  );
  const sized = dumped.map((t) => ({ ...t, bytes: 0 }));
  for (const r of rows) sized[r.i - 1]!.bytes = Number(r.bytes);
  return sized;
}

/**
 * The name an archive is written under before its release is known (`<db>-<UTC time>.dump`, then the partial suffix).
 */
function workingName(dir: string, database: string, at: Date): string {
  return partialPath(path.join(dir, `${fileNamePart(database)}-${utcStamp(at)}${ARCHIVE_SUFFIX}`));
}

/** Creates the partial file or folder, private to this user. */
function createPartial(partial: string, format: ArchiveFormat): void {
  if (format === 'custom') closeSync(createPrivateFile(partial));
  else mkdirSync(partial, { mode: 0o700 });
}

/** Removes what this run wrote: the partial file, or pg_dump's files in the partial folder and then the folder. */
function removePartial(partial: string, format: ArchiveFormat): void {
  if (format === 'custom') {
    rmSync(partial, { force: true });
    return;
  }
  try {
    removeDumpDir(partial, dumpDirEntries(partial).files);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The archive as the manifest records it: size and sha256 (and, for a folder, its files). */
interface Fingerprinted {
  bytes: number;
  sha256: string;
  files?: ArchiveFile[];
}

async function hashArchive(archive: string, format: ArchiveFormat): Promise<Fingerprinted> {
  if (format === 'custom') {
    const sha256 = await sha256File(archive);
    return { bytes: statSync(archive).size, sha256 };
  }
  const { files: names, foreign } = dumpDirEntries(archive);
  if (foreign.length || !names.includes('toc.dat')) {
    throw new UpkitError({
      code: 'backup.unverified',
      exit: 'refused',
      message:
        `the directory archive ${archive} holds ` +
        `${foreign.length ? `files pg_dump does not write (${foreign.slice(0, 3).join(', ')})` : 'no toc.dat'}`,
      hint: 'something else writes in BACKUP_DIR; nothing was changed. Run the backup again and check the log file',
    });
  }
  for (const name of names) chmodSync(path.join(archive, name), 0o600);
  const files = await hashDumpDir(archive, names);
  return { bytes: files.reduce((n, f) => n + f.bytes, 0), sha256: listSha256(files), files };
}

/** What the backup's snapshot says of the server, read in the transaction that exports it. */
interface SnapshotFacts {
  snapshot: string;
  version: string;
  serverMajor: number;
  databaseBytes: number;
}

/**
 * Opens the read-only repeatable-read transaction whose snapshot pg_dump imports, and which
 * upkit's own reading (counts, fingerprint, release) runs in: both see the same rows. It stays
 * open until pg_dump and that reading are done; takeBackup commits it, or rolls it back.
 */
async function openSnapshot(c: Pick<Client, 'query'>, lockWaitMs: number): Promise<SnapshotFacts> {
  await c.query('begin isolation level repeatable read read only');
  // The counts wait for locks no longer than pg_dump does.
  await c.query(`select set_config('lock_timeout', $1, true)`, [`${lockWaitMs}ms`]);
  const { rows } = await c.query<{ snapshot: string; version: string; num: string; bytes: string }>(
    `select pg_export_snapshot() as snapshot, current_setting('server_version') as version,
            current_setting('server_version_num') as num, pg_database_size(current_database())::text as bytes`,
  );
  const facts = rows[0]!;
  return {
    snapshot: facts.snapshot,
    version: facts.version,
    serverMajor: Math.floor(Number(facts.num) / 10000),
    databaseBytes: Number(facts.bytes),
  };
}

/**
 * Everything that can refuse without writing, before pg_dump's first byte: the dumper, the format, the directory and
 * its room.
 */
async function prepareDump(
  config: Config,
  log: Logger,
  options: BackupOptions,
  facts: SnapshotFacts,
  dumped: ReadonlyArray<DumpedTable & { bytes: number }>,
  server: Awaited<ReturnType<typeof readServerIdentity>>,
  binaries: ReturnType<typeof findClientBinaries>,
  timing: ReturnType<typeof phaseClock>,
): Promise<{ dumper: Dumper; choice: FormatChoice }> {
  const dir = options.backupDir;
  const dumper = await chooseDumper(config, facts.serverMajor, binaries);
  timing.mark('chooseDumper');
  const choice = chooseFormat(dumped, { localPgDump: dumper.kind === 'local' });
  log.info(`backup with ${dumper.why}`);
  log.info(`backup as ${choice.why}`);
  const shared = ensureBackupDir(dir);
  if (shared) warn(log, options.report, shared.code, shared.message, shared.hint);
  reportPartials(log, options.report, sweepPartials(dir));
  const previous = listVerifiedBackups(dir, config.migrationDb.database, server ?? undefined)[0];
  const needed = estimateBackupBytes(
    facts.databaseBytes,
    previous && { bytes: previous.manifest.bytes, databaseBytes: previous.manifest.databaseBytes },
  );
  assertRoomForBackup(dir, needed);
  return { dumper, choice };
}

/**
 * The pg_dump step: runs it with the bytes written as progress, and says how it ended; resolves with the archive's
 * size.
 */
function dumpStep(
  log: Logger,
  run: Promise<ProcessResult>,
  title: string,
  working: string,
  dir: string,
  signals: { run?: AbortSignal; stop: AbortSignal },
): Promise<number> {
  const t0 = performance.now();
  return log.step(title, async (step: StepControl) => {
    const timer = setInterval(() => {
      try {
        const bytes = archiveBytesNow(working);
        const secs = (performance.now() - t0) / 1000;
        step.progress(`${formatBytes(bytes)} written, ${formatBytes(bytes / Math.max(secs, 0.001))}/s`);
      } catch {
        // the file may be replaced at the very end
      }
    }, 250);
    try {
      const result = await run;
      log.debug(`pg_dump exit ${result.code ?? result.signal}; stderr: ${result.stderr.trim()}`);
      if (signals.run?.aborted) throw signals.run.reason;
      if (signals.stop.aborted) {
        // Stopped because the reading beside it failed: that error is the one reported.
        step.skip('stopped: reading the snapshot beside it failed');
        return 0;
      }
      if (result.code !== 0) throw dumpFailure(result.stderr, working, dir);
      const bytes = archiveBytesNow(working);
      step.detail(`${formatBytes(bytes)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return bytes;
    } finally {
      clearInterval(timer);
    }
  });
}

/**
 * upkit's own reading of the dumped snapshot, on the other core while pg_dump runs: release, row counts, fingerprint.
 */
async function readSnapshot(
  c: Client,
  config: Config,
  options: BackupOptions,
  tables: readonly string[],
  timing: ReturnType<typeof phaseClock>,
) {
  const detection = await detectInstall(c, options.profile ?? { drizzleDir: config.drizzleDir });
  timing.at('detectInstall');
  const counts = await countRows(c, tables);
  timing.at('counts');
  const fingerprint = await schemaFingerprint(c);
  timing.at('fingerprint');
  return { detection, counts, fingerprint };
}

/** The verify step: pg_restore --list, sha256 and fsync each read the finished archive, all at once. */
async function verifyArchive(
  log: Logger,
  dumper: Dumper,
  working: string,
  format: ArchiveFormat,
  env: NodeJS.ProcessEnv,
  dumped: readonly DumpedTable[],
  timing: ReturnType<typeof phaseClock>,
): Promise<Fingerprinted & { entries: number }> {
  return log.step('verify backup', async (step) => {
    const [toc, archive] = await Promise.all([
      readToc(dumper, working, env).then((r) => {
        timing.at('pg_restore --list');
        return r;
      }),
      hashArchive(working, format).then((r) => {
        timing.at('sha256');
        return r;
      }),
      fsyncArchive(working, format).then(() => timing.at('fsync')),
    ]);
    timing.mark('verify');
    const missing = tablesMissingFromToc(
      toc,
      dumped.map((t) => ({ schema: t.schema, name: t.table, owner: t.owner })),
    );
    if (missing.length) {
      const names = missing.slice(0, 5).map((t) => `${sqlIdent(t.schema)}.${sqlIdent(t.name)}`);
      throw new UpkitError({
        code: 'backup.unverified',
        exit: 'refused',
        message:
          `the archive's table of contents lacks ${plural(missing.length, 'table')}` +
          `: ${names.join(', ')}${missing.length > 5 ? ', …' : ''}`,
        hint: 'the dump is incomplete; nothing was changed. Run the backup again and check the log file',
      });
    }
    step.detail(
      `pg_restore --list read ${plural(toc.entries, 'entry')}, every table present; ` +
        `${archive.files ? `${plural(archive.files.length, 'file')}, ` : ''}sha256 ${archive.sha256.slice(0, 12)}…`,
    );
    return { ...archive, entries: toc.entries };
  });
}

/** The manifest of a verified archive: what it holds, where from, and how it was checked. */
function describeBackup(b: {
  name: string;
  target: Config['migrationDb'];
  server: Awaited<ReturnType<typeof readServerIdentity>>;
  facts: SnapshotFacts;
  dumper: Dumper;
  choice: FormatChoice;
  verified: Fingerprinted & { entries: number };
  read: {
    release: BackupManifest['release'];
    counts: BackupManifest['tables'];
    fingerprint: BackupManifest['fingerprint'];
  };
  durationMs: number;
  upkitVersion: string;
}): BackupManifest {
  const { dumper, verified } = b;
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    file: b.name,
    archive: b.choice.format,
    ...(b.choice.format === 'directory' ? { jobs: b.choice.jobs } : {}),
    database: b.target.database,
    host: b.target.host,
    port: b.target.port,
    ...(b.server ? { systemIdentifier: b.server.systemIdentifier } : {}),
    createdAt: new Date().toISOString(),
    release: b.read.release,
    server: { version: b.facts.version.split(' ')[0]!, major: b.facts.serverMajor },
    pgDump:
      dumper.kind === 'local'
        ? { version: dumper.pgDump.version, major: dumper.pgDump.major, via: 'local', path: dumper.pgDump.path }
        : { version: dumper.version, major: dumper.major, via: 'compose', path: `compose service ${dumper.service}` },
    compression: COMPRESSION,
    bytes: verified.bytes,
    sha256: verified.sha256,
    ...(verified.files ? { files: verified.files } : {}),
    durationMs: b.durationMs,
    tables: b.read.counts,
    fingerprint: b.read.fingerprint,
    verified: { pgRestoreList: true, tocEntries: verified.entries, at: new Date().toISOString() },
    upkitVersion: b.upkitVersion,
    databaseBytes: b.facts.databaseBytes,
  };
}

/** Writes the manifest beside the archive's final name: a private partial file, fsynced, then renamed. */
function writeManifest(manifestPath: string, manifest: BackupManifest): void {
  const tmpManifest = partialPath(manifestPath);
  const stopManifestHeartbeat = startHeartbeat(tmpManifest);
  try {
    const fd = createPrivateFile(tmpManifest);
    try {
      writeSync(fd, `${JSON.stringify(manifest, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmpManifest, manifestPath);
  } catch (err) {
    rmSync(tmpManifest, { force: true });
    throw err;
  } finally {
    stopManifestHeartbeat();
  }
}

export async function takeBackup(config: Config, log: Logger, options: BackupOptions): Promise<BackupResult> {
  const dir = options.backupDir;
  const target = config.migrationDb;
  const started = performance.now();
  const timing = phaseClock();
  // pg_dump and pg_restore are looked for (each candidate asked its --version) while connecting.
  const binaries = findClientBinaries(config);
  binaries.catch(() => {});
  // Stops pg_dump when the run is interrupted or any work beside it fails.
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let client: Client | undefined;
  let partial: string | undefined;
  let format: ArchiveFormat = 'custom';
  let dumping: Promise<number> | undefined;
  let stopHeartbeat: (() => void) | undefined;
  try {
    client = await connect(target, config, { applicationName: 'upkit backup' });
    const c = client;
    timing.mark('connect');
    const server = await readServerIdentity(c, target);
    // Interrupted: closing the session ends a row count that waits on a lock; pg_dump is
    // stopped by runDump. Either way the pending work rejects and cleanup runs.
    const closeOnAbort = () => void c.end().catch(() => {});
    stop.signal.addEventListener('abort', closeOnAbort, { once: true });
    const lockWaitMs = options.lockWaitMs ?? 60_000;
    const facts = await openSnapshot(c, lockWaitMs);
    timing.mark('server identity, snapshot');
    const dumped = await listSizedTables(c);
    timing.mark('table list and sizes');
    const { dumper, choice } = await prepareDump(config, log, options, facts, dumped, server, binaries, timing);
    format = choice.format;

    // The archive is named after the release, which is read while pg_dump runs: until
    // then it is written under a name of its own (a partial, swept like any other).
    const at = new Date();
    const working = workingName(dir, target.database, at);
    createPartial(working, format);
    partial = working;
    stopHeartbeat = startHeartbeat(working);
    timing.mark('dir, partials, space');

    const env = libpqEnv(target, config);
    dumping = dumpStep(
      log,
      runDump(dumper, choice, env, working, facts.snapshot, lockWaitMs, stop.signal),
      `pg_dump → ${fileNamePart(target.database)}-${utcStamp(at)}` +
        ` (${choice.format} format${choice.jobs > 1 ? `, ${choice.jobs} jobs` : ''})`,
      working,
      dir,
      { run: options.signal, stop: stop.signal },
    );
    dumping.catch(() => {});
    const beside = readSnapshot(
      c,
      config,
      options,
      dumped.map((t) => t.name),
      timing,
    );
    beside.catch(() => stop.abort());
    const [, { detection, counts, fingerprint }] = await Promise.all([
      dumping.then((b) => {
        timing.mark('pg_dump');
        return b;
      }),
      beside,
    ]).catch((err: unknown) => {
      throw options.signal?.aborted ? options.signal.reason : err;
    });
    await c.query('commit');
    timing.mark('commit');

    const verified = await verifyArchive(log, dumper, working, format, env, dumped, timing);
    const name = archiveName(dir, target.database, detection.release, at);
    const finalPath = path.join(dir, name);
    const manifest = describeBackup({
      name,
      target,
      server,
      facts,
      dumper,
      choice,
      verified,
      read: { release: detection.release, counts, fingerprint },
      durationMs: Math.round(performance.now() - started),
      upkitVersion: options.upkitVersion,
    });
    const manifestPath = manifestPathFor(finalPath);
    writeManifest(manifestPath, manifest);
    chmodSync(working, format === 'custom' ? 0o600 : 0o700);
    renameSync(working, finalPath);
    partial = undefined;
    timing.mark('manifest, rename');
    const retention = applyRetention(dir, target.database, server, options.keep, finalPath);
    for (const r of retention.removed) log.info(`removed old backup ${path.basename(r)} (BACKUP_KEEP=${options.keep})`);
    reportRetention(log, options.report, target, server, retention, finalPath);
    timing.mark('retention');
    log.debug(`backup timing: ${timing.text()}`);
    return { path: finalPath, manifestPath, manifest, removed: retention.removed };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (partial) {
      // pg_dump is stopped and has ended before what it wrote is removed.
      stop.abort();
      await dumping?.catch(() => {});
    }
    stopHeartbeat?.();
    if (partial) removePartial(partial, format);
    if (client) {
      await client.query('rollback').catch(() => {});
      await client.end().catch(() => {});
    }
  }
}
