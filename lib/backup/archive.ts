// An archive on disk is one of pg_dump's two formats: a custom-format file, or a
// directory-format folder (toc.dat and one file per table's data, written by parallel jobs).
// Both are hashed, synced and removed here. A folder's identity is the list of its files
// with each one's sha256; its own sha256 is that of the list, so one value names either kind.
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

export type ArchiveFormat = 'custom' | 'directory';

/** One file of a directory-format archive, as its manifest records it. */
export interface ArchiveFile {
  name: string;
  bytes: number;
  sha256: string;
}

/**
 * The names pg_dump gives the files of a directory-format archive: toc.dat, a data file per
 * table (`<dump id>.dat`, compressed `.dat.gz`), and large objects. Nothing else is ever
 * read, listed or removed as part of one; no such name can leave its folder.
 */
const DUMP_DIR_ENTRY = /^(?:toc\.dat|blobs\.toc|(?:blob_)?\d{1,10}\.dat(?:\.gz|\.lz4|\.zst)?)$/;

export function isDumpDirEntry(name: string): boolean {
  return DUMP_DIR_ENTRY.test(name);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The sha256 of a directory archive: over `<sha256>  <name>` lines (sha256sum's), sorted by name. */
export function listSha256(files: readonly ArchiveFile[]): string {
  const lines = [...files]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.name}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/** Runs fn over items, at most `width` at a time, results in the items' order. */
async function pool<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

/** What is in a directory archive: its entries, and those that are not pg_dump's files (or not regular files). */
export function dumpDirEntries(dir: string): { files: string[]; foreign: string[] } {
  const files: string[] = [];
  const foreign: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (isDumpDirEntry(name) && lstatSync(path.join(dir, name)).isFile()) files.push(name);
    else foreign.push(name);
  }
  return { files, foreign };
}

/** Each file of a directory archive with its size and sha256 (a few hashed at a time). */
export async function hashDumpDir(dir: string, names: readonly string[]): Promise<ArchiveFile[]> {
  return pool(names, 4, async (name) => {
    const file = path.join(dir, name);
    return { name, bytes: statSync(file).size, sha256: await sha256File(file) };
  });
}

async function fsyncPath(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Flushes an archive to disk: the file, or each file of the folder and the folder itself. */
export async function fsyncArchive(archive: string, format: ArchiveFormat): Promise<void> {
  if (format === 'custom') return fsyncPath(archive);
  await pool(dumpDirEntries(archive).files, 4, (name) => fsyncPath(path.join(archive, name)));
  await fsyncPath(archive);
}

/** Bytes written so far (for progress): the file's size, or the sum over the folder's files. */
export function archiveBytesNow(archive: string): number {
  const st = statSync(archive);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of readdirSync(archive)) {
    try {
      total += statSync(path.join(archive, name)).size;
    } catch {
      // renamed or removed meanwhile
    }
  }
  return total;
}

/**
 * Removes a directory archive: the files `names` lists (pg_dump's names only), then the
 * folder. Only when the folder holds nothing else: a file it does not list (an operator's
 * note, a file pg_dump did not write for it) means the folder is not upkit's alone, and
 * nothing in it is touched. Returns whether the folder is gone.
 */
export function removeDumpDir(dir: string, names: readonly string[]): boolean {
  const ours = new Set(names.filter(isDumpDirEntry));
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  if (entries.some((name) => !ours.has(name) || !lstatSync(path.join(dir, name)).isFile())) return false;
  for (const name of entries) unlinkSync(path.join(dir, name));
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * The sha256 a manifest records for the archive at `archive`, computed afresh: the file's,
 * or, for a directory-format folder, that of the list of its pg_dump files with theirs.
 */
export async function archiveSha256(archive: string): Promise<string> {
  if (!statSync(archive).isDirectory()) return sha256File(archive);
  return listSha256(await hashDumpDir(archive, dumpDirEntries(archive).files));
}
