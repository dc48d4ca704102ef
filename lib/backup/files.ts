// Backup files on disk: names, the directory, listing the verified backups of one database
// on one server, and retention.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, octalMode } from '../privateFiles.ts';
import { shellQuote } from '../quote.ts';
import { removeDumpDir } from './archive.ts';
import {
  archiveFormat,
  manifestPathFor,
  readManifest,
  sameServer,
  type BackupManifest,
  type ServerIdentity,
} from './manifest.ts';
import { backupDirError, backupDirProblem } from './space.ts';

export const ARCHIVE_SUFFIX = '.dump';
export { PARTIAL_SUFFIX } from './partial.ts';

/** Bytes of a database name kept readable in a file name (PostgreSQL's names have at most 63). */
const NAME_BYTES = 64;

export function utcStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function cutToBytes(text: string, max: number): string {
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

/**
 * A database name (or any name) as a safe part of a file name: letters, digits and `_ - . + @`
 * are kept, anything else (`/`, spaces, quotes, control characters) becomes `_`, a leading
 * dot too, and the length is bounded. A name that had to change gets a short hash of the
 * exact name, so that `team/pulse` and `team_pulse` never share a file name. The manifest
 * keeps the exact name; retention goes by it.
 */
export function fileNamePart(name: string): string {
  const readable = cutToBytes(
    name
      .normalize('NFC')
      .replace(/[^\p{L}\p{N}_\-.+@]/gu, '_')
      .replace(/^\./, '_'),
    NAME_BYTES,
  );
  if (readable === name && readable !== '') return readable;
  return `${readable}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/**
 * `<db>-<release>-<UTC timestamp>.dump` (a file, or a folder for the directory format), made unique within the
 * directory.
 */
export function archiveName(dir: string, database: string, release: string | null, at: Date): string {
  const base = `${fileNamePart(database)}-${release === null ? 'empty' : fileNamePart(release)}-${utcStamp(at)}`;
  let name = `${base}${ARCHIVE_SUFFIX}`;
  for (let i = 2; existsSync(path.join(dir, name)); i++) name = `${base}-${i}${ARCHIVE_SUFFIX}`;
  return name;
}

export interface DirWarning {
  code: string;
  message: string;
  hint: string;
}

/**
 * Creates the backup directory (0700) when it is missing; one that exists keeps its mode.
 * A directory that cannot be made or written is exit 3, nothing changed. Returns a warning
 * when the directory, which upkit did not create, can be written by other users.
 */
export function ensureBackupDir(dir: string): DirWarning | undefined {
  const problem = backupDirProblem(dir);
  if (problem) throw backupDirError(problem);
  let made: ReturnType<typeof ensurePrivateDir>;
  try {
    made = ensurePrivateDir(dir);
  } catch (err) {
    throw backupDirError(`cannot write backups in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return made.created ? undefined : sharedDirWarning(dir, made.mode);
}

function sharedDirWarning(dir: string, mode: number): DirWarning | undefined {
  if ((mode & 0o022) === 0) return undefined;
  if (mode & 0o1000) {
    return {
      code: 'backup.dir_shared',
      message:
        `${dir} is shared with other users (mode ${octalMode(mode)}): ` +
        `upkit leaves its mode as it is; its own files in it are private (0600)`,
      hint:
        "to keep even the backups' names private, set BACKUP_DIR (or --backup-dir) " +
        "to a directory of this user's own; upkit creates a missing one with mode 0700",
    };
  }
  return {
    code: 'backup.dir_writable',
    message:
      `${dir} can be written by other users (mode ${octalMode(mode)}), ` +
      `who can delete or replace backups in it; upkit leaves its mode as it is`,
    hint: `make it private with: chmod 700 ${shellQuote(dir)}`,
  };
}

export interface VerifiedBackup {
  path: string;
  manifestPath: string;
  manifest: BackupManifest;
}

function newestFirst(list: VerifiedBackup[]): VerifiedBackup[] {
  return list.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt));
}

/**
 * Every verified backup of `database` in dir (archive and a readable manifest naming it
 * exactly, of the kind the manifest records: a file, or a folder), of any server, newest first.
 */
function verifiedOfDatabase(dir: string, database: string): VerifiedBackup[] {
  if (!existsSync(dir)) return [];
  const out: VerifiedBackup[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(ARCHIVE_SUFFIX)) continue;
    const archive = path.join(dir, name);
    const manifestPath = manifestPathFor(archive);
    try {
      const manifest = readManifest(manifestPath);
      // A folder is never followed through a link: retention removes files inside it.
      const kindMatches =
        archiveFormat(manifest) === 'directory' ? lstatSync(archive).isDirectory() : statSync(archive).isFile();
      if (manifest.database === database && manifest.file === name && kindMatches)
        out.push({ path: archive, manifestPath, manifest });
    } catch {
      // not verified: never counted, never deleted by retention
    }
  }
  return newestFirst(out);
}

/**
 * Verified backups of `database` in dir, newest first. With the server's identity, only
 * those whose manifest proves they come from that server (its system identifier, host and
 * port); without it, those of any server with a database of that name (enough to estimate
 * the size of the next backup, never enough to delete or restore one).
 */
export function listVerifiedBackups(dir: string, database: string, server?: ServerIdentity): VerifiedBackup[] {
  const all = verifiedOfDatabase(dir, database);
  return server ? all.filter((b) => sameServer(b.manifest, server)) : all;
}

export interface BackupsByServer {
  /** Proven to be this server's, newest first. */
  own: VerifiedBackup[];
  /** Proven to be another server's database of the same name. */
  otherServers: VerifiedBackup[];
  /** Manifests that do not say which server they come from (older upkit): never deleted. */
  unproven: VerifiedBackup[];
}

export function backupsByServer(dir: string, database: string, server: ServerIdentity | null): BackupsByServer {
  const out: BackupsByServer = { own: [], otherServers: [], unproven: [] };
  for (const b of verifiedOfDatabase(dir, database)) {
    if (!server || !b.manifest.systemIdentifier) out.unproven.push(b);
    else if (sameServer(b.manifest, server)) out.own.push(b);
    else out.otherServers.push(b);
  }
  return out;
}

export interface Retention extends BackupsByServer {
  removed: string[];
}

/**
 * Removes a verified backup's archive: the file, or the files its manifest lists in the
 * folder and then the folder. A folder that still holds anything else is not upkit's alone:
 * it stays, with its manifest. Returns whether the archive is gone.
 */
export function removeArchive(b: VerifiedBackup): boolean {
  if (archiveFormat(b.manifest) === 'directory')
    return removeDumpDir(
      b.path,
      (b.manifest.files ?? []).map((f) => f.name),
    );
  rmSync(b.path, { force: true });
  return true;
}

/**
 * Keeps the newest `keep` verified backups of this database on this server and removes
 * older ones. Only called after a new backup was verified, never removes the one just
 * written, and never a backup whose manifest does not prove it is this server's.
 */
export function applyRetention(
  dir: string,
  database: string,
  server: ServerIdentity | null,
  keep: number,
  justWritten: string,
): Retention {
  const found = backupsByServer(dir, database, server);
  const removed: string[] = [];
  let kept = 0;
  for (const b of found.own) {
    if (b.path === justWritten || kept < keep) {
      kept++;
      continue;
    }
    if (!removeArchive(b)) continue;
    rmSync(b.manifestPath, { force: true });
    removed.push(b.path);
  }
  return { ...found, removed };
}
