// A throwaway cluster from the machine's own PostgreSQL binaries: initdb + pg_ctl in a temp dir.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CommandError,
  buildUrl,
  cleanPgEnv,
  freePort,
  newPassword,
  readServerVersion,
  run,
  type ServerHandle,
} from './common.ts';
import { SYSTEM_PREFIX, claimDir, clusterBase, reapOrphans } from './orphans.ts';

const SUPERUSER = 'postgres';
const PORT_ATTEMPTS = 3;

// Durability buys nothing for a cluster that is deleted after the run.
const SETTINGS: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '200',
  // Restore refuses a database with prepared transactions: the tests make some.
  max_prepared_transactions: '10',
};

interface RunAs {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root, so root hands the cluster to the `postgres` OS user. */
async function runAsFor(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', SUPERUSER]), run('id', ['-g', SUPERUSER])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error(
      'Running as root, the system PostgreSQL needs a "postgres" OS user to own the cluster, and there is none: ' +
        'apt-get install -y postgresql creates it (or run the tests as a normal user).',
    );
  }
}

function quoteConf(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

export interface SystemServerOptions {
  binDir: string;
}

export async function startSystemServer({ binDir }: SystemServerOptions): Promise<ServerHandle> {
  const [runAs] = await Promise.all([runAsFor(), reapOrphans()]);
  const dir = await mkdtemp(join(await clusterBase(), SYSTEM_PREFIX));
  await claimDir(dir);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const env = cleanPgEnv();
  const command = (tool: string, args: string[]): [string, string[]] =>
    runAs ? ['runuser', ['-u', SUPERUSER, '--', join(binDir, tool), ...args]] : [join(binDir, tool), args];
  const exec = (tool: string, args: string[]) => run(...command(tool, args), { cwd: dir, env });

  // A pid file means a postmaster may run, whether or not pg_ctl start reported success.
  const mayRun = (): boolean => existsSync(join(dataDir, 'postmaster.pid'));
  // vitest exits on Ctrl-C without tearing down; 'exit' allows only synchronous work.
  const stopOnExit = (): void => {
    if (mayRun()) spawnSync(...command('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']), { cwd: dir, env });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopOnExit);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', stopOnExit);
    try {
      if (mayRun()) await exec('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  try {
    if (runAs) await chown(dir, runAs.uid, runAs.gid);
    const password = newPassword();
    const pwFile = join(dir, 'pwfile');
    await writeFile(pwFile, `${password}\n`, { mode: 0o600, flag: 'wx' });
    if (runAs) await chown(pwFile, runAs.uid, runAs.gid);
    try {
      await exec('initdb', [
        '-D',
        dataDir,
        '-U',
        SUPERUSER,
        '--auth=scram-sha-256',
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--no-locale',
        '--no-sync',
        '--no-instructions',
      ]);
    } finally {
      await unlink(pwFile).catch(() => undefined);
    }

    const port = await startOnFreePort(exec, dir, dataDir, logFile);
    const host = '127.0.0.1';
    const adminUrl = buildUrl({ user: SUPERUSER, password, host, port, database: 'postgres' });
    const { majorVersion, version } = await readServerVersion(adminUrl);
    return { source: 'system', adminUrl, host, port, user: SUPERUSER, password, majorVersion, version, binDir, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

type Exec = (tool: string, args: string[]) => Promise<unknown>;

async function startOnFreePort(exec: Exec, dir: string, dataDir: string, logFile: string): Promise<number> {
  const confPath = join(dataDir, 'postgresql.conf');
  const baseConf = await readFile(confPath, 'utf8');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings = { ...SETTINGS, port: String(port), unix_socket_directories: dir };
    const lines = Object.entries(settings).map(([key, value]) => `${key} = ${quoteConf(value)}`);
    // Rewriting from the pristine file keeps retries from stacking settings.
    await writeFile(confPath, baseConf);
    await appendFile(confPath, `\n# upkit test harness\n${lines.join('\n')}\n`);
    try {
      await exec('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30']);
      return port;
    } catch (error) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      if (attempt < PORT_ATTEMPTS && /could not bind|already in use/i.test(log)) continue;
      const detail = error instanceof CommandError ? error.message : String(error);
      throw new Error(`pg_ctl start failed in ${dataDir}: ${detail}\nserver log:\n${log.trim()}`, { cause: error });
    }
  }
}
