// The manifest written beside every backup (`<file>.dump.json`): what was dumped, by
// which programs, how big it is, its sha256, and what the database held (row counts and
// schema fingerprint, read in the very snapshot pg_dump dumped), so that a restore can be
// checked against it. A backup counts as verified only when its manifest says so.
import { readFileSync } from 'node:fs';
import type { Client } from 'pg';
import { UpkitError } from '../errors.ts';
import { isDumpDirEntry, listSha256, type ArchiveFile } from './archive.ts';

export const MANIFEST_FORMAT = 'upkit-backup';
export const MANIFEST_VERSION = 1;
export const MANIFEST_SUFFIX = '.json';

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  /** The archive's name (a file, or a folder for the directory format), in the same directory as the manifest. */
  file: string;
  /**
   * pg_dump's format: `custom` (one file) or `directory` (a folder written by `jobs` parallel
   * jobs). Absent in manifests written before upkit chose: those are custom.
   */
  archive?: 'custom' | 'directory';
  /** pg_dump's --jobs, for the directory format. */
  jobs?: number;
  /** The directory format's files, each with its size and sha256 (`sha256` is then over this list). */
  files?: ArchiveFile[];
  database: string;
  /** The host and port as upkit was told them (DATABASE_URL or DB_HOST/DB_PORT). */
  host: string;
  port: number;
  /**
   * The cluster's `system_identifier` (pg_control_system()), as text. With host, port and
   * database it says whose backup this is; retention deletes nothing it does not prove.
   * Absent in manifests written before upkit recorded it.
   */
  systemIdentifier?: string;
  createdAt: string;
  /** The release detected when the backup was taken, or null for an empty database. */
  release: string | null;
  server: { version: string; major: number };
  pgDump: { version: string; major: number; via: 'local' | 'compose'; path: string };
  /** gzip level. */
  compression: number;
  /** The file's size, or the sum of the folder's files. */
  bytes: number;
  /** The file's sha256; for a folder, that of its `files` list (lib/backup/archive.ts listSha256). */
  sha256: string;
  durationMs: number;
  /** pg_database_size when the backup was taken: scales the room the next backup needs. */
  databaseBytes?: number;
  /** Exact row counts per table (`schema.table`), in the dumped snapshot. */
  tables: Record<string, number>;
  /** The public schema's fingerprint (lib/schema/fingerprint.ts), in the dumped snapshot. */
  fingerprint: string[];
  verified: { pgRestoreList: true; tocEntries: number; at: string };
  upkitVersion: string;
}

/** The archive's format as the manifest says it (custom when it predates the field). */
export function archiveFormat(m: Pick<BackupManifest, 'archive'>): 'custom' | 'directory' {
  return m.archive ?? 'custom';
}

export function manifestPathFor(archivePath: string): string {
  return `${archivePath}${MANIFEST_SUFFIX}`;
}

function bad(file: string, why: string): UpkitError {
  return new UpkitError({
    code: 'backup.manifest',
    exit: 'refused',
    message: `backup manifest ${file} ${why}`,
    hint: 'use a backup upkit wrote and verified (npx zx scripts/backup.ts makes a new one); nothing was changed',
  });
}

export function readManifest(manifestPath: string): BackupManifest {
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch {
    throw bad(manifestPath, 'is missing: without it the backup cannot be checked before it is restored');
  }
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(text) as Partial<BackupManifest>;
  } catch {
    throw bad(manifestPath, 'is not valid JSON');
  }
  if (m.format !== MANIFEST_FORMAT || m.version !== MANIFEST_VERSION)
    throw bad(manifestPath, `is not an upkit backup manifest of version ${MANIFEST_VERSION}`);
  if (
    typeof m.sha256 !== 'string' ||
    typeof m.bytes !== 'number' ||
    typeof m.file !== 'string' ||
    !m.tables ||
    !Array.isArray(m.fingerprint)
  ) {
    throw bad(manifestPath, 'lacks file, bytes, sha256, tables or fingerprint');
  }
  if (!m.verified?.pgRestoreList) throw bad(manifestPath, 'does not record a verified backup');
  if (m.archive !== undefined && m.archive !== 'custom' && m.archive !== 'directory')
    throw bad(manifestPath, `names an unknown archive format (${String(m.archive)})`);
  if (m.archive === 'directory') {
    const files = m.files;
    const valid =
      Array.isArray(files) &&
      files.length > 0 &&
      files.every(
        (f) =>
          f &&
          typeof f.name === 'string' &&
          isDumpDirEntry(f.name) &&
          typeof f.bytes === 'number' &&
          typeof f.sha256 === 'string',
      ) &&
      new Set(files.map((f) => f.name)).size === files.length;
    if (!valid) throw bad(manifestPath, "lacks a valid list of the directory archive's files");
    if (listSha256(files) !== m.sha256 || files.reduce((s, f) => s + f.bytes, 0) !== m.bytes)
      throw bad(manifestPath, "gives a sha256 or size that is not its file list's");
  }
  return m as BackupManifest;
}

/** Which server a backup is of: its cluster's system identifier and the host and port as named. */
export interface ServerIdentity {
  systemIdentifier: string;
  host: string;
  port: number;
}

/** The server's identity, or null when the role may not read it (retention then deletes nothing). */
export async function readServerIdentity(
  client: Pick<Client, 'query'>,
  target: { host: string; port: number },
): Promise<ServerIdentity | null> {
  try {
    const { rows } = await client.query<{ id: string }>(
      'select system_identifier::text as id from pg_control_system()',
    );
    return rows[0]?.id ? { systemIdentifier: rows[0].id, host: target.host, port: target.port } : null;
  } catch {
    return null;
  }
}

/**
 * Whether the manifest proves the backup was taken of this server: the same cluster (a
 * copied data directory or a replica shares the identifier, hence host and port too).
 */
export function sameServer(
  m: Pick<BackupManifest, 'systemIdentifier' | 'host' | 'port'>,
  server: ServerIdentity,
): boolean {
  return (
    m.systemIdentifier !== undefined &&
    m.systemIdentifier === server.systemIdentifier &&
    m.host === server.host &&
    m.port === server.port
  );
}
