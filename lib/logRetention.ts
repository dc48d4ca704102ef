// Log retention: a log folder keeps the newest UPKIT_LOG_KEEP upkit log files. upkit deletes
// only what it can prove it wrote: a regular file of this user in that folder (never a symlink
// or a subfolder), named as openLogFile names its files, whose first line is the header
// openLogFile writes and agrees with the name. Of those, only a file whose run has ended: its
// last line is the one close() writes, or its header names a process of this host (and pid
// namespace) that no longer runs. The current run's file and a file another run still writes
// (in this process, as targets do, or in another one sharing the folder) are always kept.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { UpkitError } from './errors.ts';
import { processAlive } from './processAlive.ts';
import { shellQuote } from './quote.ts';

export const LOG_KEEP_DEFAULT = 100;

/** How many upkit log files a log folder keeps: a number, or `all` (never prune). */
export type LogKeep = number | 'all';

/** UPKIT_LOG_KEEP (from the environment only, as UPKIT_LOG_DIR): unset or empty is the default. */
export function parseLogKeep(raw: string | undefined): LogKeep | UpkitError {
  const value = raw?.trim() ?? '';
  if (value === '') return LOG_KEEP_DEFAULT;
  if (value === 'all') return 'all';
  if (/^\d+$/.test(value) && Number(value) >= 1 && Number.isSafeInteger(Number(value))) return Number(value);
  return new UpkitError({
    code: 'config.invalid',
    exit: 'usage',
    message: `UPKIT_LOG_KEEP: must be a whole number above 0 or all, got "${raw}"`,
    hint:
      `unset UPKIT_LOG_KEEP (${LOG_KEEP_DEFAULT} log files are kept) ` +
      `or set it to how many to keep, then run: npx zx scripts/preflight.ts`,
  });
}

/** `upgrade-20260102T030405Z-1234.log`, `upgrade-targets-…-1234-2.log`: as openLogFile names them. */
const LOG_NAME = /^([a-z][a-z0-9-]*?)-(\d{8}T\d{6}Z)-(\d+)(?:-\d+)?\.log$/;

/** The last line close() writes: the run that wrote the file has ended. */
export const LOG_CLOSED = 'upkit log closed';

/** The pid namespace of this process (Linux), so that a pid is only judged where it means the same process. */
export function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

export interface LogHeader {
  command: string;
  pid: number;
  host: string;
  pidns: string;
}

/** What openLogFile writes first: the run that owns the file, so that retention can tell whether it has ended. */
export function logHeader(command: string): string {
  const header: LogHeader = { command, pid: process.pid, host: hostname(), pidns: pidNamespace() };
  return `upkit log ${JSON.stringify(header)}`;
}

const HEADER_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info {2}upkit log (\{.*\})$/;

function parseHeader(line: string): LogHeader | undefined {
  const m = HEADER_LINE.exec(line);
  if (!m) return undefined;
  try {
    const h = JSON.parse(m[1]!) as Partial<LogHeader>;
    if (
      typeof h.command !== 'string' ||
      !Number.isSafeInteger(h.pid) ||
      typeof h.host !== 'string' ||
      typeof h.pidns !== 'string'
    )
      return undefined;
    return h as LogHeader;
  } catch {
    return undefined;
  }
}

interface Entry {
  name: string;
  stamp: string;
  command: string;
  pid: number;
}

type Verdict = { kind: 'upkit'; ended: boolean; stat: Stats } | { kind: 'foreign'; mine: boolean } | { kind: 'gone' };

const HEAD_BYTES = 1024;
const TAIL_BYTES = 128;

/** Reads the head and tail of a file opened without following a symlink, and judges it. */
function judge(dir: string, e: Entry, uid: number): Verdict {
  const file = path.join(dir, e.name);
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch {
    return { kind: 'gone' };
  }
  // Named in the warning: this user's files and symlinks; a folder is nobody's log.
  const mine = st.uid === uid && !st.isDirectory();
  if (!st.isFile() || !mine) return { kind: 'foreign', mine };
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return { kind: 'foreign', mine };
  }
  try {
    const now = fstatSync(fd);
    if (now.ino !== st.ino || now.dev !== st.dev) return { kind: 'foreign', mine };
    const head = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, head, 0, HEAD_BYTES, 0);
    const nl = head.subarray(0, n).indexOf('\n');
    const header = nl === -1 ? undefined : parseHeader(head.subarray(0, nl).toString('utf8'));
    if (!header || header.command !== e.command || header.pid !== e.pid) return { kind: 'foreign', mine };
    const tail = Buffer.alloc(TAIL_BYTES);
    const from = Math.max(0, now.size - TAIL_BYTES);
    const t = readSync(fd, tail, 0, TAIL_BYTES, from);
    const closed = tail.subarray(0, t).toString('utf8').endsWith(` info  ${LOG_CLOSED}\n`);
    // A pid means this process only on this host, in this pid namespace; elsewhere only the closing line tells.
    const here = header.host === hostname() && header.pidns === pidNamespace();
    return { kind: 'upkit', ended: closed || (here && !processAlive(header.pid)), stat: st };
  } catch {
    return { kind: 'foreign', mine };
  } finally {
    closeSync(fd);
  }
}

export interface PruneResult {
  deleted: string[];
  /** Files named like upkit's logs, of this user, older than the newest `keep`, that upkit cannot prove it wrote. */
  unproven: string[];
  /** The first failure to delete (EACCES, EPERM, …); a file that is already gone is not one. */
  problem?: string;
}

/**
 * Deletes the oldest upkit log files of `dir` beyond the newest `keep` (by the time in their
 * names, then by name; never by mtime), except `current` and every file whose run has not ended.
 */
export function pruneLogs(dir: string, keep: LogKeep, current: string): PruneResult {
  const result: PruneResult = { deleted: [], unproven: [] };
  const uid = process.getuid?.();
  if (keep === 'all' || uid === undefined) return result;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    result.problem = `cannot read ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    return result;
  }
  const entries: Entry[] = [];
  for (const name of names) {
    const m = LOG_NAME.exec(name);
    if (m) entries.push({ name, command: m[1]!, stamp: m[2]!, pid: Number(m[3]) });
  }
  // Newest first: the time in the name, then the name.
  entries.sort((a, b) =>
    a.stamp !== b.stamp ? (a.stamp < b.stamp ? 1 : -1) : a.name < b.name ? 1 : a.name > b.name ? -1 : 0,
  );
  const currentName = path.basename(current);
  let kept = 0;
  for (const e of entries) {
    const verdict = judge(dir, e, uid);
    if (verdict.kind === 'gone') continue;
    if (verdict.kind === 'foreign') {
      if (verdict.mine && kept >= keep) result.unproven.push(e.name);
      continue;
    }
    if (kept < keep || e.name === currentName || !verdict.ended) {
      kept++;
      continue;
    }
    const file = path.join(dir, e.name);
    try {
      // The same file that was judged, still there under its name.
      const again = lstatSync(file);
      if (again.ino !== verdict.stat.ino || again.dev !== verdict.stat.dev || !again.isFile()) continue;
      unlinkSync(file);
      result.deleted.push(e.name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') result.problem ??= `cannot delete ${shellQuote(file)} (${code ?? String(err)})`;
    }
  }
  result.unproven.reverse();
  return result;
}
