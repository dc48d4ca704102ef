// Backup files on disk: names, the directory's mode, listing the verified backups of one
// database, and retention.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { manifestPathFor, readManifest, type BackupManifest } from './manifest.ts';
import { backupDirError, backupDirProblem } from './space.ts';

export const ARCHIVE_SUFFIX = '.dump';
export const PARTIAL_SUFFIX = '.partial';

export function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `<db>-<release>-<UTC timestamp>.dump`, made unique within the directory. */
export function archiveName(dir: string, database: string, release: string | null, at: Date): string {
  const base = `${database}-${release ?? 'empty'}-${utcStamp(at)}`;
  let name = `${base}${ARCHIVE_SUFFIX}`;
  for (let i = 2; existsSync(path.join(dir, name)); i++) name = `${base}-${i}${ARCHIVE_SUFFIX}`;
  return name;
}

/** Creates the backup directory (0700); a directory that cannot be made or written is exit 3, nothing changed. */
export function ensureBackupDir(dir: string): void {
  const problem = backupDirProblem(dir);
  if (problem) throw backupDirError(problem);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if ((statSync(dir).mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  } catch (err) {
    throw backupDirError(`cannot write backups in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export interface VerifiedBackup {
  path: string;
  manifestPath: string;
  manifest: BackupManifest;
}

/** Verified backups of `database` in dir (archive and manifest both present), newest first. */
export function listVerifiedBackups(dir: string, database: string): VerifiedBackup[] {
  if (!existsSync(dir)) return [];
  const out: VerifiedBackup[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(ARCHIVE_SUFFIX) || !name.startsWith(`${database}-`)) continue;
    const archive = path.join(dir, name);
    const manifestPath = manifestPathFor(archive);
    try {
      const manifest = readManifest(manifestPath);
      if (manifest.database === database && manifest.file === name) out.push({ path: archive, manifestPath, manifest });
    } catch {
      // not verified: never counted, never deleted by retention
    }
  }
  return out.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt));
}

/**
 * Keeps the newest `keep` verified backups of the database and removes older ones. Only
 * called after a new backup was verified, and never removes the one just written.
 */
export function applyRetention(dir: string, database: string, keep: number, justWritten: string): string[] {
  const removed: string[] = [];
  const all = listVerifiedBackups(dir, database);
  let kept = 0;
  for (const b of all) {
    if (b.path === justWritten || kept < keep) {
      kept++;
      continue;
    }
    rmSync(b.path, { force: true });
    rmSync(b.manifestPath, { force: true });
    removed.push(b.path);
  }
  return removed;
}

/**
 * Whether the process that named a partial file after its pid may still write to it. A
 * zombie cannot: a run killed with its parent stays one where nothing reaps orphans (a
 * container whose first process does not), and signal 0 alone takes it for alive.
 */
function writerAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // Ended since, or no /proc (not Linux), where signal 0 is all there is.
    return !existsSync('/proc/self/stat');
  }
}

/** Partial files whose writer is gone (a killed run); returns what was removed. */
export function removeStalePartials(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = /\.(\d+)\.partial$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (!writerAlive(pid)) {
      rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
