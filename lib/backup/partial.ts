// Files (or directory-format folders) being written: `<final name>.<host>.<pid>.<space>.partial`, where <space> names
// the process namespace of the writer (a hash of the kernel's boot id and the pid namespace).
// BACKUP_DIR may be shared by machines and containers, so a pid alone proves nothing: a
// writer is asked "are you alive?" only where its pid means the same process as here (the
// same namespace of the same running kernel). Everywhere else the writer proves it is alive
// by a heartbeat: it touches its file every few seconds, and a partial file is stale only
// after a long silence. A killed run's file is removed at once on its own machine, and
// after the silence anywhere else.
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  type Stats,
  statSync,
  utimesSync,
} from 'node:fs';
import { dumpDirEntries, removeDumpDir } from './archive.ts';
import { hostname } from 'node:os';
import { processAlive } from '../processAlive.ts';
import path from 'node:path';

export const PARTIAL_SUFFIX = '.partial';
/** How often a writer touches its partial file. */
export const HEARTBEAT_MS = 10_000;
/**
 * A partial file untouched this long is stale whoever wrote it (generous: clocks of machines sharing a disk differ).
 */
export const STALE_AFTER_MS = 30 * 60_000;

// Only names upkit gives its own partial files (an archive's or a manifest's) are ever
// considered: anything else in the folder is not upkit's to remove.
const CURRENT = /\.dump(?:\.json)?\.([A-Za-z0-9-]{1,32})\.(\d+)\.([0-9a-f]{8})\.partial$/;
/** Written by older upkit versions: `<final name>.<pid>.partial`, the namespace unknown. */
const LEGACY = /\.dump(?:\.json)?\.(\d+)\.partial$/;

/** This host's name as it appears in file names: letters, digits and hyphens, at most 32. */
export function hostLabel(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9-]+/g, '-')
      .slice(0, 32) || 'host'
  );
}

function readOr(read: () => string, fallback: string): string {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** Where this process's pid means this process: the running kernel and its pid namespace. */
export function processSpace(): string {
  const boot = readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), `host:${hostname()}`);
  const ns = readOr(() => readlinkSync('/proc/self/ns/pid'), 'pid:[0]');
  return createHash('sha256').update(`${boot}\n${ns}`).digest('hex').slice(0, 8);
}

/** Partial files this process is writing right now (a process may take several backups at once). */
const writing = new Set<string>();

export function partialPath(finalPath: string): string {
  return `${finalPath}.${hostLabel()}.${process.pid}.${processSpace()}${PARTIAL_SUFFIX}`;
}

/**
 * Marks file as being written by this process and touches it every HEARTBEAT_MS until the
 * returned function is called.
 */
export function startHeartbeat(file: string): () => void {
  const resolved = path.resolve(file);
  writing.add(resolved);
  const timer = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(resolved, now, now);
    } catch {
      // renamed or removed at the very end
    }
  }, HEARTBEAT_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    writing.delete(resolved);
  };
}

export interface PartialFile {
  name: string;
  /** The writer's host and pid, when the name carries them. */
  host: string | null;
  pid: number;
  /** Milliseconds since the file was last written or touched. */
  silentMs: number;
  stale: boolean;
  /** Why it is stale: the writer has ended, or the file has been silent too long. */
  why: 'ended' | 'silent' | null;
}

export function inspectPartial(dir: string, name: string, now = Date.now()): PartialFile | undefined {
  const current = CURRENT.exec(name);
  const legacy = current ? null : LEGACY.exec(name);
  if (!current && !legacy) return undefined;
  const file = path.resolve(dir, name);
  let silentMs: number;
  try {
    silentMs = Math.max(0, now - statSync(file).mtimeMs);
  } catch {
    return undefined;
  }
  const pid = Number(current ? current[2] : legacy![1]);
  const host = current ? current[1]! : null;
  const base = { name, host, pid, silentMs };
  if (writing.has(file)) return { ...base, stale: false, why: null };
  if (
    current &&
    current[1] === hostLabel() &&
    current[3] === processSpace() &&
    (pid === process.pid || !processAlive(pid))
  )
    return { ...base, stale: true, why: 'ended' };
  if (silentMs > STALE_AFTER_MS) return { ...base, stale: true, why: 'silent' };
  return { ...base, stale: false, why: null };
}

export interface PartialSweep {
  removed: PartialFile[];
  /** Partial files another live writer holds (another run, machine or container): left alone. */
  live: PartialFile[];
  /**
   * Stale partial folders holding files pg_dump does not write: not provably upkit's, left alone (absent when none).
   */
  foreign?: Array<PartialFile & { files: string[] }>;
}

/**
 * Removes a stale partial: a file, or a folder that holds nothing but pg_dump's
 * directory-format files. Returns undefined when it is gone; else what in it is not
 * pg_dump's (the folder then stays, whole), or [] when it is neither file nor folder.
 */
function removeStale(file: string): string[] | undefined {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch {
    return [];
  }
  if (st.isFile()) {
    rmSync(file, { force: true });
    return undefined;
  }
  if (!st.isDirectory()) return [];
  const { files, foreign } = dumpDirEntries(file);
  if (foreign.length) return foreign;
  return removeDumpDir(file, files) ? undefined : [];
}

/** Removes the partial files whose writer is gone; lists those another writer may still be writing. */
export function sweepPartials(dir: string, now = Date.now()): PartialSweep {
  const out: PartialSweep = { removed: [], live: [] };
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = inspectPartial(dir, name, now);
    if (!p) continue;
    if (p.stale) {
      const left = removeStale(path.join(dir, name));
      if (left === undefined) out.removed.push(p);
      else if (left.length) {
        out.foreign ??= [];
        out.foreign.push({ ...p, files: left });
      }
    } else if (!writing.has(path.resolve(dir, name))) {
      out.live.push(p);
    }
  }
  return out;
}
