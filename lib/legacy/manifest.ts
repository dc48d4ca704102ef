// The legacy SQL folder: a manifest fixing the order of hand-run files, plus the one
// comprehensive file that holds all of them. Read once, checksummed, validated.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UpkitError } from '../errors.ts';

export interface LegacyFile {
  /** The release the file brings the database to, e.g. `v1.2`. */
  release: string;
  file: string;
  path: string;
  text: string;
  /** sha256 of the file's bytes, as recorded in upkit.legacy_migrations. */
  checksum: string;
}

export interface LegacyManifest {
  dir: string;
  comprehensive: LegacyFile | undefined;
  files: LegacyFile[];
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

function invalid(dir: string, what: string): UpkitError {
  return new UpkitError({
    code: 'legacy.manifest',
    exit: 'refused',
    message: `legacy SQL folder ${dir}: ${what}`,
    hint:
      'restore the folder from the upkit release you are running (git ' +
      'checkout -- legacy-sql), or point --legacy-dir at a complete one',
  });
}

function load(dir: string, release: string, file: string): LegacyFile {
  const full = path.join(dir, file);
  if (!existsSync(full)) throw invalid(dir, `manifest.json names ${file}, which does not exist`);
  const bytes = readFileSync(full);
  return { release, file, path: full, text: bytes.toString('utf8'), checksum: sha256(bytes) };
}

export function readLegacyManifest(dir: string): LegacyManifest {
  const manifestPath = path.join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw invalid(dir, 'manifest.json is missing');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (err) {
    throw invalid(dir, `manifest.json is not valid JSON (${(err as Error).message})`);
  }
  const m = raw as { comprehensive?: unknown; files?: unknown };
  if (!Array.isArray(m.files) || m.files.length === 0) throw invalid(dir, 'manifest.json lists no files');
  const seen = new Set<string>();
  const files = m.files.map((entry: unknown, i: number) => {
    const e = entry as { release?: unknown; file?: unknown };
    if (typeof e.release !== 'string' || typeof e.file !== 'string')
      throw invalid(dir, `manifest.json entry ${i + 1} needs "release" and "file"`);
    if (seen.has(e.file)) throw invalid(dir, `manifest.json lists ${e.file} twice`);
    seen.add(e.file);
    return load(dir, e.release, e.file);
  });
  const comprehensive =
    typeof m.comprehensive === 'string' ? load(dir, files.at(-1)!.release, m.comprehensive) : undefined;
  return { dir, comprehensive, files };
}
