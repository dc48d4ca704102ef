// Before a restore touches anything: the archive must be the one its manifest describes
// (size, then sha256), and pg_restore must read its table of contents and find every
// table the manifest counted. Each refusal is one line saying why; nothing is changed.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import { detectCompose, execInService, type ComposeCli } from '../compose.ts';
import { UpkitError } from '../errors.ts';
import { chooseForServer, clientPackageHint, findBinaries, type PgBinary } from '../pgTools.ts';
import { manifestPathFor, readManifest, type BackupManifest } from './manifest.ts';
import { formatBytes } from './space.ts';
import { listArchive, readToc, tocTables, type Toc } from './toc.ts';
import { plural } from '../plural.ts';

/** Where pg_restore runs: a local binary, or inside the compose database service (archive on stdin). */
export type Restorer =
  | { kind: 'local'; pgRestore: PgBinary; why: string }
  | { kind: 'compose'; cli: ComposeCli; composeFile: string; service: string; version: string; major: number; why: string };

export interface CheckedBackup {
  path: string;
  manifestPath: string;
  manifest: BackupManifest;
  restorer: Restorer;
  tocEntries: number;
}

const NEXT = 'pick another backup, or take a new one with: npx zx scripts/backup.ts; nothing was changed';

function refuse(code: string, message: string, hint = NEXT): UpkitError {
  return new UpkitError({ code, exit: 'refused', message, hint });
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** pg_restore reads archives of its own major and older: the nearest major at or above pg_dump's. */
export async function chooseRestorer(config: Pick<Config, 'pgBinDir' | 'composeFile' | 'dbService'>, archiveMajor: number): Promise<Restorer> {
  const found = await findBinaries('pg_restore', config.pgBinDir);
  const local = chooseForServer(found, archiveMajor);
  if (local) return { kind: 'local', pgRestore: local, why: `${local.path} ${local.version} (found via ${local.foundVia})` };
  const seen = found.length ? `found only ${[...new Set(found.map((b) => `${b.version} at ${b.path}`))].join(', ')}` : 'none found';
  if (config.composeFile) {
    const cli = await detectCompose();
    if (cli) {
      try {
        const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(await execInService(cli, config.composeFile, config.dbService, ['pg_restore', '--version']));
        if (m && Number(m[1]) >= archiveMajor) {
          const version = `${m[1]}${m[2] ? `.${m[2]}` : ''}`;
          return { kind: 'compose', cli, composeFile: config.composeFile, service: config.dbService, version, major: Number(m[1]), why: `pg_restore ${version} inside compose service "${config.dbService}" (no local one of ${archiveMajor} or newer: ${seen})` };
        }
      } catch {
        // fall through to the error that names what to install
      }
    }
  }
  throw refuse(
    'restore.no_pg_restore',
    `no pg_restore of PostgreSQL ${archiveMajor} or newer to read this backup with (it was written by pg_dump ${archiveMajor}; ${seen})`,
    `install one: ${clientPackageHint(archiveMajor)}; or set UPKIT_PG_BINDIR to its directory; nothing was changed`,
  );
}

export async function listWith(restorer: Restorer, file: string): Promise<Toc> {
  if (restorer.kind === 'local') return listArchive(restorer.pgRestore, file);
  return readToc({ ...restorer, pgRestore: undefined }, file, process.env);
}

/**
 * Checks a backup in the order that gives the clearest reason first: the manifest, the
 * size (a cut-short copy), the sha256 (a changed byte), then pg_restore --list.
 * `manifest` skips reading it from disk when the caller has just written it.
 */
export async function checkBackup(config: Pick<Config, 'pgBinDir' | 'composeFile' | 'dbService'>, file: string, manifest?: BackupManifest): Promise<CheckedBackup> {
  const archive = path.resolve(file);
  let size: number;
  try {
    const st = statSync(archive);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw refuse('restore.no_archive', `backup ${archive} does not exist or is not a file`, 'give the path of a .dump file that upkit wrote (ls BACKUP_DIR); nothing was changed');
  }
  const manifestPath = manifestPathFor(archive);
  const m = manifest ?? readManifest(manifestPath);
  if (size !== m.bytes) {
    throw refuse(
      'restore.size_mismatch',
      `backup ${archive} is ${size} bytes (${formatBytes(size)}) but its manifest says ${m.bytes} (${formatBytes(m.bytes)}): truncated or replaced`,
    );
  }
  const sha256 = await sha256File(archive);
  if (sha256 !== m.sha256) {
    throw refuse('restore.sha256_mismatch', `backup ${archive} has sha256 ${sha256}, its manifest says ${m.sha256}: the file was changed or damaged`);
  }
  const restorer = await chooseRestorer(config, m.pgDump.major);
  const toc = await listWith(restorer, archive);
  const listed = tocTables(toc);
  const missing = Object.keys(m.tables).filter((t) => !listed.has(t));
  if (missing.length) {
    throw refuse('restore.toc_incomplete', `pg_restore --list of ${archive} lacks ${plural(missing.length, 'table')} its manifest counted: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  }
  return { path: archive, manifestPath, manifest: m, restorer, tocEntries: toc.entries };
}
