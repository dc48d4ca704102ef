// A run killed by Ctrl-C (vitest does not tear down a half-done globalSetup) or a worker killed
// on timeout leaves its cluster running and its temp dir behind. Each start reaps those first.
import { readFile, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './common.ts';

export const SYSTEM_PREFIX = 'upkit-pg-';
export const EMBEDDED_PREFIX = 'upkit-embedded-';
const OWNER_FILE = 'owner.pid';
// A dir with no owner file yet may be one another run is creating right now.
const UNOWNED_GRACE_MS = 10 * 60_000;

const SHM = '/dev/shm';
const SHM_MIN_FREE = 2 * 1024 ** 3;

/** Where clusters live: RAM when there is plenty of it (initdb and CREATE DATABASE run about
 * twice as fast there), else the temp dir. Docker's default 64 MB /dev/shm is not plenty. */
export async function clusterBase(): Promise<string> {
  try {
    const fs = await statfs(SHM);
    if (fs.bavail * fs.bsize >= SHM_MIN_FREE) return SHM;
  } catch {
    // no /dev/shm on this system
  }
  return tmpdir();
}

/** Marks `dir` as belonging to this process, so a later run knows when it is an orphan. */
export async function claimDir(dir: string): Promise<void> {
  await writeFile(join(dir, OWNER_FILE), `${process.pid}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.split('\n')[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Guards against a recycled pid: only a postmaster started on this data dir is signalled. */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  try {
    const { stdout } = await run('ps', ['-p', String(pid), '-o', 'args='], { timeoutMs: 5_000 });
    return stdout.includes(dataDir);
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function reapDir(dir: string): Promise<boolean> {
  const owner = await readPid(join(dir, OWNER_FILE));
  if (owner !== undefined ? isAlive(owner) : Date.now() - (await stat(dir)).mtimeMs < UNOWNED_GRACE_MS) {
    return false;
  }
  for (const entry of await readdir(dir)) {
    const dataDir = join(dir, entry);
    const postmaster = await readPid(join(dataDir, 'postmaster.pid'));
    if (postmaster !== undefined && isAlive(postmaster) && (await isPostmasterOf(postmaster, dataDir))) {
      // SIGQUIT is PostgreSQL's immediate shutdown: nothing in these clusters is worth a checkpoint.
      process.kill(postmaster, 'SIGQUIT');
      await waitForExit(postmaster, 10_000);
    }
  }
  await rm(dir, { recursive: true, force: true });
  return true;
}

/** Stops and deletes clusters whose owning process is gone; returns the dirs removed. */
export async function reapOrphans(bases: readonly string[] = [tmpdir(), SHM]): Promise<string[]> {
  const dirs: string[] = [];
  for (const base of new Set(bases)) {
    const names = await readdir(base).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith(SYSTEM_PREFIX) || name.startsWith(EMBEDDED_PREFIX)) dirs.push(join(base, name));
    }
  }
  const reaped = await Promise.all(
    dirs.map(async (dir) => ((await reapDir(dir).catch(() => false)) ? dir : undefined)),
  );
  return reaped.filter((dir): dir is string => dir !== undefined);
}
