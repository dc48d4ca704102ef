// upkit's own files and folders are private: folders it creates are 0700, files it creates
// 0600, whatever the umask. A folder it was given (a tmpfs mount point, a shared backup
// disk) keeps the mode it had: upkit changes the mode of nothing it did not create.
import { chmodSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';

export interface PrivateDir {
  /** Whether this call created the folder (then it is 0700). */
  created: boolean;
  /** The folder's mode bits (permissions, setuid/setgid, sticky) after the call. */
  mode: number;
}

/** Creates dir and any missing parents with mode 0700; a folder that exists is left as it is. */
export function ensurePrivateDir(dir: string): PrivateDir {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first !== undefined) {
    // mkdir's mode is filtered by the umask: set it on exactly the folders made here.
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      chmodSync(d, 0o700);
      if (d === path.resolve(first) || path.dirname(d) === d) break;
    }
  }
  return { created: first !== undefined, mode: statSync(dir).mode & 0o7777 };
}

/** Creates file, which must not exist yet, as 0600 and opens it with `flags` ('wx' or 'ax'). */
export function createPrivateFile(file: string, flags: 'wx' | 'ax' = 'wx'): number {
  const fd = openSync(file, flags, 0o600);
  fchmodSync(fd, 0o600);
  return fd;
}

/** `1777`, `0755`: a mode as `ls -l` users and chmod read it. */
export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
