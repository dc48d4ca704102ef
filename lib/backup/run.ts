// Takes a backup that can be trusted: pg_dump (custom format) in an exported snapshot, so
// that the row counts and fingerprint in the manifest describe exactly what was dumped;
// written to a partial file, checked (pg_dump's exit status, then pg_restore --list must
// read the archive and name every table), hashed, described in a manifest, and only then
// given its final name. Old backups are pruned only after that.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, createWriteStream, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';
import type { Config } from '../config.ts';
import { composeArgs } from '../compose.ts';
import { connect } from '../db.ts';
import { UpkitError } from '../errors.ts';
import type { Logger, StepControl } from '../log.ts';
import { libpqEnv } from '../pgEnv.ts';
import { detectInstall } from '../profile.ts';
import type { Profile } from '../profileTypes.ts';
import { createPrivateFile } from '../privateFiles.ts';
import { sqlIdent } from '../quote.ts';
import { redact } from '../redact.ts';
import type { ReportBuilder } from '../report.ts';
import { schemaFingerprint } from '../schema/fingerprint.ts';
import { applyRetention, archiveName, ensureBackupDir, listVerifiedBackups } from './files.ts';
import { MANIFEST_FORMAT, MANIFEST_VERSION, manifestPathFor, readServerIdentity, type BackupManifest } from './manifest.ts';
import { reportPartials, reportRetention, warn } from './notices.ts';
import { partialPath, startHeartbeat, sweepPartials } from './partial.ts';
import { assertRoomForBackup, estimateBackupBytes, formatBytes } from './space.ts';
import { chooseDumper, type Dumper } from './strategy.ts';
import { sha256File } from './restoreCheck.ts';
import { readToc, tablesMissingFromToc } from './toc.ts';
import { plural } from '../plural.ts';

export const COMPRESSION = 1;

export interface BackupOptions {
  /** Whose release names the archive (the commands choose it); without, the newest applied entry of config.drizzleDir. */
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
export async function countRows(client: Pick<Client, 'query'>, tables: readonly string[]): Promise<Record<string, number>> {
  if (tables.length === 0) return {};
  const sql = tables.map((t, i) => `select ${i} as i, count(*)::bigint::text as n from ${t}`).join(' union all ');
  const { rows } = await client.query<{ i: number; n: string }>(sql);
  const out: Record<string, number> = {};
  // The key is the name as pg_restore --list prints it (no quotes, line breaks as spaces).
  for (const r of rows) out[tables[r.i]!.replace(/"/g, '').replace(/[\r\n]/g, ' ')] = Number(r.n);
  return out;
}


function fsyncFile(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface DumpRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs pg_dump (locally, or in the compose service with its output streamed to the file). */
function runDump(dumper: Dumper, env: NodeJS.ProcessEnv, partial: string, snapshot: string, lockWaitMs: number, signal?: AbortSignal): Promise<DumpRun> {
  const dumpArgs = ['--format=custom', `--compress=${COMPRESSION}`, `--snapshot=${snapshot}`, `--lock-wait-timeout=${lockWaitMs}`, '--no-password'];
  return new Promise((resolve, reject) => {
    let child;
    let out: ReturnType<typeof createWriteStream> | undefined;
    if (dumper.kind === 'local') {
      child = spawn(dumper.pgDump.path, [...dumpArgs, `--file=${partial}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    } else {
      // -T: no TTY, so the archive's bytes pass through unchanged. Credentials travel as
      // `-e NAME` (value taken from this process's environment), never as arguments.
      const args = composeArgs(dumper.cli, dumper.composeFile, ['exec', '-T', '-e', 'PGUSER', '-e', 'PGDATABASE', '-e', 'PGPASSWORD', dumper.service, 'pg_dump', ...dumpArgs]);
      child = spawn(dumper.cli.command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      out = createWriteStream(partial, { mode: 0o600 });
      child.stdout!.pipe(out);
    }
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', reject);
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      const done = () => resolve({ code, signal: sig, stderr });
      if (out) out.end(done);
      else done();
    });
  });
}

function dumpFailure(stderr: string, partial: string, dir: string): UpkitError {
  const text = redact(stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ')) || 'no message';
  if (/No space left on device|could not write/i.test(stderr)) {
    return new UpkitError({
      code: 'backup.disk_full',
      exit: 'refused',
      message: `the disk holding ${dir} filled up while writing the backup; the partial file was removed`,
      hint: 'free some space or set BACKUP_DIR (or --backup-dir) to a larger disk, then run the command again; nothing was changed',
    });
  }
  if (/permission denied/i.test(stderr)) {
    return new UpkitError({ code: 'backup.permission', exit: 'refused', message: `pg_dump was refused: ${text}`, hint: 'back up as the database owner or a role that can read every table; nothing was changed' });
  }
  if (/lock/i.test(stderr) && /timeout|could not obtain/i.test(stderr)) {
    return new UpkitError({ code: 'backup.lock_wait', exit: 'refused', message: `pg_dump could not lock every table: ${text}`, hint: 'a session holds an exclusive lock; find it in pg_stat_activity, then run the command again; nothing was changed' });
  }
  return new UpkitError({ code: 'backup.pg_dump_failed', exit: 'refused', message: `pg_dump failed: ${text}`, hint: `see the log file for pg_dump's full output; ${path.basename(partial)} was removed and nothing was changed` });
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

export async function takeBackup(config: Config, log: Logger, options: BackupOptions): Promise<BackupResult> {
  const dir = options.backupDir;
  const target = config.migrationDb;
  const started = performance.now();
  const timing = phaseClock();
  let client: Client | undefined;
  let partial: string | undefined;
  let stopHeartbeat: (() => void) | undefined;
  try {
    client = await connect(target, config, { applicationName: 'upkit backup' });
    timing.mark('connect');
    const c = client;
    const server = await readServerIdentity(c, target);
    timing.mark('server identity');
    // Interrupted: closing the session ends a row count that waits on a lock; pg_dump is
    // stopped by runDump. Either way the pending work rejects and cleanup runs.
    const closeOnAbort = () => void c.end().catch(() => {});
    options.signal?.addEventListener('abort', closeOnAbort, { once: true });
    await c.query('begin isolation level repeatable read read only');
    // The counts wait for locks no longer than pg_dump does.
    await c.query(`select set_config('lock_timeout', $1, true)`, [`${options.lockWaitMs ?? 60_000}ms`]);
    const { rows } = await c.query<{ snapshot: string; version: string; num: string; bytes: string }>(
      `select pg_export_snapshot() as snapshot, current_setting('server_version') as version,
              current_setting('server_version_num') as num, pg_database_size(current_database())::text as bytes`,
    );
    const facts = rows[0]!;
    const serverMajor = Math.floor(Number(facts.num) / 10000);
    const databaseBytes = Number(facts.bytes);
    timing.mark('snapshot');
    const detection = await detectInstall(c, options.profile ?? { drizzleDir: config.drizzleDir });
    timing.mark('detectInstall');
    const dumped = await listDumpedTables(c);
    const tables = dumped.map((t) => t.name);
    timing.mark('listDumpedTables');

    const dumper = await chooseDumper(config, serverMajor);
    timing.mark('chooseDumper');
    log.info(`backup with ${dumper.why}`);
    const shared = ensureBackupDir(dir);
    if (shared) warn(log, options.report, shared.code, shared.message, shared.hint);
    reportPartials(log, options.report, sweepPartials(dir));
    const previous = listVerifiedBackups(dir, target.database, server ?? undefined)[0];
    const needed = estimateBackupBytes(databaseBytes, previous && { bytes: previous.manifest.bytes, databaseBytes: previous.manifest.databaseBytes });
    assertRoomForBackup(dir, needed);
    timing.mark('dir, partials, space');

    const name = archiveName(dir, target.database, detection.release, new Date());
    const finalPath = path.join(dir, name);
    partial = partialPath(finalPath);
    closeSync(createPrivateFile(partial));
    stopHeartbeat = startHeartbeat(partial);
    timing.mark('partial file');

    const env = libpqEnv(target, config);
    const lockWaitMs = options.lockWaitMs ?? 60_000;
    const dumping = log.step(`pg_dump → ${name}`, async (step: StepControl) => {
      const t0 = performance.now();
      const timer = setInterval(() => {
        try {
          const bytes = statSync(partial!).size;
          const secs = (performance.now() - t0) / 1000;
          step.progress(`${formatBytes(bytes)} written, ${formatBytes(bytes / Math.max(secs, 0.001))}/s`);
        } catch {
          // the file may be replaced at the very end
        }
      }, 250);
      try {
        const result = await runDump(dumper, env, partial!, facts.snapshot, lockWaitMs, options.signal);
        log.debug(`pg_dump exit ${result.code ?? result.signal}; stderr: ${result.stderr.trim()}`);
        if (options.signal?.aborted) throw options.signal.reason;
        if (result.code !== 0) throw dumpFailure(result.stderr, partial!, dir);
        const bytes = statSync(partial!).size;
        step.detail(`${formatBytes(bytes)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        return bytes;
      } finally {
        clearInterval(timer);
      }
    });
    // Counted in the dumped snapshot, on the other core, while pg_dump runs.
    const [bytes, counts, fingerprint] = await Promise.all([dumping.then((b) => (timing.mark('pg_dump'), b)), countRows(c, tables).then((r) => (timing.at('counts'), r)), schemaFingerprint(c).then((r) => (timing.at('fingerprint'), r))]).catch((err: unknown) => {
      throw options.signal?.aborted ? options.signal.reason : err;
    });
    await c.query('commit');
    timing.mark('commit');

    const verified = await log.step('verify backup', async (step) => {
      const toc = await readToc(dumper, partial!, env);
      timing.mark('pg_restore --list');
      const missing = tablesMissingFromToc(toc, dumped.map((t) => ({ schema: t.schema, name: t.table, owner: t.owner })));
      if (missing.length) {
        const names = missing.slice(0, 5).map((t) => `${sqlIdent(t.schema)}.${sqlIdent(t.name)}`);
        throw new UpkitError({
          code: 'backup.unverified',
          exit: 'refused',
          message: `the archive's table of contents lacks ${plural(missing.length, 'table')}: ${names.join(', ')}${missing.length > 5 ? ', …' : ''}`,
          hint: 'the dump is incomplete; nothing was changed. Run the backup again and check the log file',
        });
      }
      fsyncFile(partial!);
      timing.mark('fsync');
      const sha256 = await sha256File(partial!);
      timing.mark('sha256');
      step.detail(`pg_restore --list read ${plural(toc.entries, 'entry')}, every table present; sha256 ${sha256.slice(0, 12)}…`);
      return { sha256, entries: toc.entries };
    });

    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      file: name,
      database: target.database,
      host: target.host,
      port: target.port,
      ...(server ? { systemIdentifier: server.systemIdentifier } : {}),
      createdAt: new Date().toISOString(),
      release: detection.release,
      server: { version: facts.version.split(' ')[0]!, major: serverMajor },
      pgDump: dumper.kind === 'local' ? { version: dumper.pgDump.version, major: dumper.pgDump.major, via: 'local', path: dumper.pgDump.path } : { version: dumper.version, major: dumper.major, via: 'compose', path: `compose service ${dumper.service}` },
      compression: COMPRESSION,
      bytes,
      sha256: verified.sha256,
      durationMs: Math.round(performance.now() - started),
      tables: counts,
      fingerprint,
      verified: { pgRestoreList: true, tocEntries: verified.entries, at: new Date().toISOString() },
      upkitVersion: options.upkitVersion,
      databaseBytes,
    };
    const manifestPath = manifestPathFor(finalPath);
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
    chmodSync(partial, 0o600);
    renameSync(partial, finalPath);
    partial = undefined;
    timing.mark('manifest, rename');
    const retention = applyRetention(dir, target.database, server, options.keep, finalPath);
    for (const r of retention.removed) log.info(`removed old backup ${path.basename(r)} (BACKUP_KEEP=${options.keep})`);
    reportRetention(log, options.report, target, server, retention, finalPath);
    timing.mark('retention');
    log.debug(`backup timing: ${timing.text()}`);
    return { path: finalPath, manifestPath, manifest, removed: retention.removed };
  } finally {
    stopHeartbeat?.();
    if (partial) rmSync(partial, { force: true });
    if (client) {
      await client.query('rollback').catch(() => {});
      await client.end().catch(() => {});
    }
  }
}
