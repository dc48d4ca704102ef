// Whether a process of this host (and this pid namespace) still runs. Signal 0 alone is not
// enough: a run killed with its parent stays a zombie where nothing reaps orphans (a
// container whose first process does not), and a zombie writes nothing and holds nothing.
import { existsSync, readFileSync } from 'node:fs';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // Ended since, or no /proc (not Linux), where signal 0 is all there is.
    return !existsSync('/proc/self/stat');
  }
}
