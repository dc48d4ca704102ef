// Before a restore touches anything: the archive must be the one its manifest describes
// (size, then sha256), and pg_restore must read its table of contents and find every
// table the manifest counted. Each refusal is one line saying why; nothing is changed.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import { detectCompose, execInService, type ComposeCli } from '../compose.ts';
import { UpkitError } from '../errors.ts';
import { chooseForServer, clientPackageHint, findBinaries, type PgBinary } from '../pgTools.ts';
import { archiveFormat, manifestPathFor, readManifest, type BackupManifest } from './manifest.ts';
import { formatBytes } from './space.ts';
import { listArchive, readToc, tocTables, type Toc } from './toc.ts';
import { plural } from '../plural.ts';

/** Where pg_restore runs: a local binary, or inside the compose database service (archive on stdin). */
export type Restorer =
  | { kind: 'local'; pgRestore: PgBinary; why: string }
  | {
      kind: 'compose';
      cli: ComposeCli;
      composeFile: string;
      service: string;
      version: string;
      major: number;
      why: string;
    };

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

export { sha256File } from './archive.ts';
import { dumpDirEntries, hashDumpDir, listSha256, sha256File } from './archive.ts';

/** pg_restore reads archives of its own major and older: the nearest major at or above pg_dump's. */
export async function chooseRestorer(
  config: Pick<Config, 'pgBinDir' | 'composeFile' | 'dbService'>,
  archiveMajor: number,
): Promise<Restorer> {
  const found = await findBinaries('pg_restore', config.pgBinDir);
  const local = chooseForServer(found, archiveMajor);
  if (local)
    return { kind: 'local', pgRestore: local, why: `${local.path} ${local.version} (found via ${local.foundVia})` };
  const seen = found.length
    ? `found only ${[...new Set(found.map((b) => `${b.version} at ${b.path}`))].join(', ')}`
    : 'none found';
  if (config.composeFile) {
    const cli = await detectCompose();
    if (cli) {
      try {
        const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(
          await execInService(cli, config.composeFile, config.dbService, ['pg_restore', '--version']),
        );
        if (m && Number(m[1]) >= archiveMajor) {
          const version = `${m[1]}${m[2] ? `.${m[2]}` : ''}`;
          return {
            kind: 'compose',
            cli,
            composeFile: config.composeFile,
            service: config.dbService,
            version,
            major: Number(m[1]),
            why:
              `pg_restore ${version} inside compose service "${config.dbService}` +
              `" (no local one of ${archiveMajor} or newer: ${seen})`,
          };
        }
      } catch {
        // fall through to the error that names what to install
      }
    }
  }
  throw refuse(
    'restore.no_pg_restore',
    `no pg_restore of PostgreSQL ${archiveMajor} or newer to read this ` +
      `backup with (it was written by pg_dump ${archiveMajor}; ${seen})`,
    `install one: ${clientPackageHint(archiveMajor)}; or set UPKIT_PG_BINDIR to its directory; nothing was changed`,
  );
}

export async function listWith(restorer: Restorer, file: string): Promise<Toc> {
  if (restorer.kind === 'local') return listArchive(restorer.pgRestore, file);
  return readToc({ ...restorer, pgRestore: undefined }, file, process.env);
}

/**
 * A directory archive must hold exactly the files its manifest lists (a missing one, one too
 * many), each of its size, then each of its sha256; and the list must hash to the manifest's.
 */
async function checkDumpDir(archive: string, m: BackupManifest): Promise<void> {
  const listed = m.files ?? [];
  const { files, foreign } = dumpDirEntries(archive);
  const expected = new Set(listed.map((f) => f.name));
  const missing = listed.filter((f) => !files.includes(f.name)).map((f) => f.name);
  const extra = [...foreign, ...files.filter((n) => !expected.has(n))];
  if (missing.length || extra.length) {
    const what = [
      missing.length ? `lacks ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}` : '',
      extra.length
        ? `holds ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''} that its manifest does not list`
        : '',
    ]
      .filter(Boolean)
      .join(' and ');
    throw refuse('restore.files_mismatch', `backup folder ${archive} ${what}: changed or damaged`);
  }
  for (const f of listed) {
    const size = statSync(path.join(archive, f.name)).size;
    if (size !== f.bytes) {
      throw refuse(
        'restore.size_mismatch',
        `${path.join(archive, f.name)} is ${size} bytes (${formatBytes(size)}) ` +
          `but the backup's manifest says ${f.bytes} (${formatBytes(f.bytes)}): truncated or replaced`,
      );
    }
  }
  const hashed = await hashDumpDir(
    archive,
    listed.map((f) => f.name),
  );
  for (const [i, f] of listed.entries()) {
    if (hashed[i]!.sha256 !== f.sha256) {
      throw refuse(
        'restore.sha256_mismatch',
        `${path.join(archive, f.name)} has sha256 ${hashed[i]!.sha256}, ` +
          `the backup's manifest says ${f.sha256}: the file was changed or damaged`,
      );
    }
  }
  if (listSha256(hashed) !== m.sha256)
    throw refuse(
      'restore.sha256_mismatch',
      `backup folder ${archive}'s files hash to ${listSha256(hashed)}, its manifest says ${m.sha256}`,
    );
}

/**
 * Checks a backup in the order that gives the clearest reason first: the manifest, the
 * size (a cut-short copy), the sha256 (a changed byte), then pg_restore --list.
 * `manifest` skips reading it from disk when the caller has just written it.
 */
export async function checkBackup(
  config: Pick<Config, 'pgBinDir' | 'composeFile' | 'dbService'>,
  file: string,
  manifest?: BackupManifest,
): Promise<CheckedBackup> {
  const archive = path.resolve(file);
  let isDir: boolean;
  let size = 0;
  try {
    const st = statSync(archive);
    if (!st.isFile() && !st.isDirectory()) throw new Error('not a file');
    isDir = st.isDirectory();
    size = st.size;
  } catch {
    throw refuse(
      'restore.no_archive',
      `backup ${archive} does not exist or is not a file`,
      'give the path of a .dump file that upkit wrote (ls BACKUP_DIR); nothing was changed',
    );
  }
  const manifestPath = manifestPathFor(archive);
  const m = manifest ?? readManifest(manifestPath);
  const format = archiveFormat(m);
  if (isDir !== (format === 'directory')) {
    throw refuse(
      'restore.format_mismatch',
      `backup ${archive} is a ${isDir ? 'folder' : 'file'} but its manifest records ` +
        `a ${format}-format ${format === 'directory' ? 'folder' : 'file'}: replaced`,
    );
  }
  if (format === 'directory') {
    await checkDumpDir(archive, m);
  } else {
    if (size !== m.bytes) {
      throw refuse(
        'restore.size_mismatch',
        `backup ${archive} is ${size} bytes (${formatBytes(size)}) ` +
          `but its manifest says ${m.bytes} (${formatBytes(m.bytes)}): truncated or replaced`,
      );
    }
    const sha256 = await sha256File(archive);
    if (sha256 !== m.sha256) {
      throw refuse(
        'restore.sha256_mismatch',
        `backup ${archive} has sha256 ${sha256}, its manifest says ${m.sha256}: the file was changed or damaged`,
      );
    }
  }
  const restorer = await chooseRestorer(config, m.pgDump.major);
  if (format === 'directory' && restorer.kind !== 'local') {
    throw refuse(
      'restore.no_pg_restore',
      `backup ${archive} is a directory-format folder, ` +
        `which only a pg_restore on this machine can read (${restorer.why})`,
      `install one: ${clientPackageHint(m.pgDump.major)}; or set UPKIT_PG_BINDIR to its directory; nothing was changed`,
    );
  }
  const toc = await listWith(restorer, archive);
  const listed = tocTables(toc);
  const missing = Object.keys(m.tables).filter((t) => !listed.has(t));
  if (missing.length) {
    throw refuse(
      'restore.toc_incomplete',
      `pg_restore --list of ${archive} lacks ${plural(missing.length, 'table')}` +
        ` its manifest counted: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    );
  }
  return { path: archive, manifestPath, manifest: m, restorer, tocEntries: toc.entries };
}
