// Finds the PostgreSQL client programs (pg_dump, pg_restore) that can work with a server.
// pg_dump refuses servers newer than itself, and a much newer pg_dump writes settings an
// older server rejects on restore, so the same major is preferred, then the nearest newer.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PgBinary {
  path: string;
  binDir: string;
  major: number;
  version: string;
  /** How it was found, for the report: "PATH", "pg_config --bindir", "UPKIT_PG_BINDIR", "/usr/lib/postgresql". */
  foundVia: string;
}

export async function binaryVersion(file: string): Promise<{ major: number; version: string } | undefined> {
  try {
    const { stdout } = await run(file, ['--version'], { timeout: 5000 });
    const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (!m) return undefined;
    return { major: Number(m[1]), version: `${m[1]}${m[2] ? `.${m[2]}` : ''}` };
  } catch {
    return undefined;
  }
}

async function pgConfigBinDir(): Promise<string | undefined> {
  try {
    const { stdout } = await run('pg_config', ['--bindir'], { timeout: 5000 });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

function versionedDirs(root: string, pattern: RegExp, sub: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => pattern.test(d))
    .sort((a, b) => Number(b.replace(/\D/g, '')) - Number(a.replace(/\D/g, '')))
    .map((d) => path.join(root, d, sub));
}

/** Candidate directories in search order, each with how it was found. */
export async function candidateBinDirs(
  pgBinDir?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Array<{ dir: string; via: string }>> {
  if (pgBinDir) return [{ dir: pgBinDir, via: 'UPKIT_PG_BINDIR' }];
  const out: Array<{ dir: string; via: string }> = [];
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) out.push({ dir, via: 'PATH' });
  const fromConfig = await pgConfigBinDir();
  if (fromConfig) out.push({ dir: fromConfig, via: 'pg_config --bindir' });
  for (const dir of versionedDirs('/usr/lib/postgresql', /^\d+$/, 'bin')) out.push({ dir, via: '/usr/lib/postgresql' });
  for (const dir of versionedDirs('/usr', /^pgsql-\d+$/, 'bin')) out.push({ dir, via: '/usr/pgsql-*' });
  for (const root of ['/opt/homebrew/opt', '/usr/local/opt']) {
    for (const dir of versionedDirs(root, /^postgresql@\d+$/, 'bin')) out.push({ dir, via: root });
  }
  const seen = new Set<string>();
  return out.filter(({ dir }) => {
    if (seen.has(dir)) return false;
    seen.add(dir);
    return true;
  });
}

export async function findBinaries(name: 'pg_dump' | 'pg_restore' | 'psql', pgBinDir?: string): Promise<PgBinary[]> {
  const found: PgBinary[] = [];
  const seen = new Set<string>();
  for (const { dir, via } of await candidateBinDirs(pgBinDir)) {
    const file = path.join(dir, name);
    if (!existsSync(file)) continue;
    const real = realpathSync(file);
    if (seen.has(real)) continue;
    seen.add(real);
    const version = await binaryVersion(file);
    if (!version) continue;
    found.push({ path: file, binDir: dir, foundVia: via, ...version });
  }
  return found;
}

/** The same major as the server if there is one, else the nearest newer major. */
export function chooseForServer(binaries: readonly PgBinary[], serverMajor: number): PgBinary | undefined {
  const usable = binaries.filter((b) => b.major >= serverMajor);
  usable.sort((a, b) => a.major - b.major);
  return usable[0];
}

/** The package that brings a pg_dump for this major on this operating system. */
export function clientPackageHint(major: number, osRelease = readOsRelease()): string {
  const id = `${osRelease.ID ?? ''} ${osRelease.ID_LIKE ?? ''}`;
  if (/debian|ubuntu/.test(id))
    return `apt-get install postgresql-client-${major} (from the PostgreSQL apt repository if your release lacks it)`;
  if (/rhel|fedora|centos|rocky|alma/.test(id)) return `dnf install postgresql${major}`;
  if (/alpine/.test(id)) return `apk add postgresql${major}-client`;
  if (process.platform === 'darwin') return `brew install postgresql@${major}`;
  return `install the PostgreSQL ${major} client programs (pg_dump, pg_restore)`;
}

function readOsRelease(): Record<string, string> {
  try {
    const out: Record<string, string> = {};
    for (const line of readFileSync('/etc/os-release', 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
    }
    return out;
  } catch {
    return {};
  }
}
