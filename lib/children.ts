// The programs upkit starts (pg_dump, pg_restore, psql, docker compose) never outlive it:
// whatever is still running when the process exits is ended then. lib/process.ts registers
// each child it starts; any other child of this process is found in /proc (or by ps).
import { type ChildProcess, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The pids of this process's own children (pg_dump, pg_restore, psql, docker compose). */
export function childPids(parent = process.pid): number[] {
  try {
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === parent) out.push(Number(entry));
      } catch {
        // it ended between listing and reading
      }
    }
    return out;
  } catch {
    // No /proc (macOS): ask ps.
    try {
      return execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.trim().split(/\s+/).map(Number))
        .filter(([pid, ppid]) => ppid === parent && pid !== undefined && !Number.isNaN(pid))
        .map(([pid]) => pid!);
    } catch {
      return [];
    }
  }
}

const running = new Set<ChildProcess>();

/** Registers a child to be ended with upkit; the function returned forgets it (it has ended). */
export function trackChild(child: ChildProcess): () => void {
  running.add(child);
  return () => running.delete(child);
}

/** Ends every child still running when upkit exits, so that no pg_restore or pg_dump outlives it. */
export function endChildren(): void {
  const ended = new Set<number | undefined>();
  for (const child of running) {
    child.kill('SIGTERM');
    ended.add(child.pid);
  }
  running.clear();
  for (const pid of childPids()) {
    if (ended.has(pid)) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
