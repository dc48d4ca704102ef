// Room for a backup. A custom-format dump is compressed and rarely approaches the
// database's size on disk, but the first backup of a database has nothing better to go
// on; later ones scale the previous backup's size by how much the database grew.
import { accessSync, constants, existsSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UpkitError } from '../errors.ts';

export interface PreviousBackup {
  bytes: number;
  databaseBytes?: number;
}

export function estimateBackupBytes(databaseBytes: number, previous?: PreviousBackup): number {
  if (previous?.databaseBytes && previous.databaseBytes > 0) {
    return Math.ceil(previous.bytes * Math.max(1, databaseBytes / previous.databaseBytes) * 1.5);
  }
  return databaseBytes;
}

/** The nearest directory that exists at or above dir (the backup directory may not yet). */
export function existingAncestor(dir: string): string {
  let d = path.resolve(dir);
  while (!existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

export function freeBytes(dir: string): number {
  const fs = statfsSync(existingAncestor(dir));
  return fs.bavail * fs.bsize;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Why backups cannot be written in dir (as root, too: a file in the way, a read-only disk), or undefined. */
export function backupDirProblem(dir: string): string | undefined {
  const at = existingAncestor(dir);
  if (!statSync(at).isDirectory()) return `cannot write backups in ${dir}: ${at} is a file, not a directory`;
  try {
    accessSync(at, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EROFS'
      ? `cannot write backups in ${dir}: ${at} is on a read-only file system`
      : `cannot write backups in ${dir} (${at} is not writable by this user)`;
  }
  return undefined;
}

export function backupDirError(message: string): UpkitError {
  return new UpkitError({
    code: 'backup.dir_not_writable',
    exit: 'refused',
    message,
    hint: 'set BACKUP_DIR to a directory this user can write, or pass --backup-dir DIR; nothing was changed',
  });
}

/** Throws exit 3 when the directory is not writable or has too little room. */
export function assertRoomForBackup(dir: string, needed: number): { free: number } {
  const at = existingAncestor(dir);
  const problem = backupDirProblem(dir);
  if (problem) throw backupDirError(problem);
  const free = freeBytes(dir);
  if (free < needed) {
    throw new UpkitError({
      code: 'backup.disk_space',
      exit: 'refused',
      message: `only ${formatBytes(free)} free in ${at}; the backup may need up to ${formatBytes(needed)}`,
      hint: 'free some space, or set BACKUP_DIR (or --backup-dir) to a larger disk; nothing was changed',
    });
  }
  return { free };
}
