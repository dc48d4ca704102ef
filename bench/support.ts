// Shared by the benchmarks: a PostgreSQL server to measure on (BENCH_DATABASE_URL, or a
// throwaway cluster from this machine's binaries, as the test harness starts one), timing
// helpers, and writing a section of BENCHMARKS.md.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadConfig, PROJECT_ROOT, type Config } from '../lib/config.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { connectUrlServer } from '../test/support/servers/url.ts';
import { startSystemServer } from '../test/support/servers/system.ts';
import { findSystemInstalls } from '../test/support/servers/discover.ts';
import {
  buildUrl,
  cleanPgEnv,
  newPassword,
  readServerVersion,
  type ServerHandle,
} from '../test/support/servers/common.ts';
import { writeDocSection } from '../test/support/docSection.ts';

const execFileP = promisify(execFile);

export async function benchServer(): Promise<ServerHandle> {
  if (process.env.BENCH_DATABASE_URL) return connectUrlServer(process.env.BENCH_DATABASE_URL);
  const installs = await findSystemInstalls();
  const install = installs[0];
  if (!install)
    throw new Error(
      'no PostgreSQL binaries found: install postgresql (apt-get install postgresql) or set BENCH_DATABASE_URL',
    );
  return startSystemServer({ binDir: install.binDir });
}

export function urlFor(server: ServerHandle, database: string): string {
  const u = new URL(server.adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  c.on('notice', () => {});
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function recreateDatabase(server: ServerHandle, name: string): Promise<string> {
  await withClient(server.adminUrl, async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name}`);
  });
  return urlFor(server, name);
}

export function configFor(url: string, extra: Record<string, string> = {}): Config {
  return loadConfig({ env: { DATABASE_URL: url, ...extra }, cwd: PROJECT_ROOT });
}

/** A logger that writes nowhere: benchmarks print their own lines. */
export function silentLogger(command: string): Logger {
  const sink = new (class {
    isTTY = false;
    write() {
      return true;
    }
  })() as unknown as NodeJS.WriteStream;
  return createLogger({ command, stream: sink, interactive: false, logDir: false });
}

export async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t0 = performance.now();
  const result = await fn();
  return { ms: performance.now() - t0, result };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

/** Replaces (or appends) the `## <name>` section of BENCHMARKS.md. */
export function writeSection(name: string, body: string): void {
  writeDocSection(
    'BENCHMARKS.md',
    '# Benchmarks\n\nEach section is written by its benchmark (`npm run bench:<name>`); ' +
      'ratios are measured against the named peer in the same run, on the machine named in the section.\n',
    name,
    body,
  );
}

/**
 * A cluster of the benchmark's own in `dir` (on disk, so that it can outgrow memory), on the first free port
 * from the one it is given, with durability off as the test harness's clusters have it. When `dir` already
 * holds one from an earlier run (kept with `keep`), it is started again with its data: a
 * benchmark can build its databases once and measure them over several runs.
 */
export async function scratchServer(opts: {
  dir: string;
  port: number;
  binDir?: string;
}): Promise<ServerHandle & { reused: boolean }> {
  const binDir = opts.binDir ?? '/usr/lib/postgresql/15/bin';
  const dataDir = path.join(opts.dir, 'data');
  const passwordFile = path.join(opts.dir, 'password');
  const asPostgres = process.getuid?.() === 0;
  const pgTool = (tool: string, args: string[]) =>
    execFileP(
      asPostgres ? 'runuser' : path.join(binDir, tool),
      asPostgres ? ['-u', 'postgres', '--', path.join(binDir, tool), ...args] : args,
      { env: cleanPgEnv() },
    );
  const reused = existsSync(path.join(dataDir, 'PG_VERSION'));
  if (!reused) {
    rmSync(opts.dir, { recursive: true, force: true });
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    writeFileSync(passwordFile, `${newPassword()}\n`, { mode: 0o600 });
    if (asPostgres) {
      const [uid, gid] = await Promise.all(
        ['-u', '-g'].map(async (f) => Number((await execFileP('id', [f, 'postgres'])).stdout.trim())),
      );
      chownSync(opts.dir, uid!, gid!);
      chownSync(passwordFile, uid!, gid!);
    }
    await pgTool('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=scram-sha-256',
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
      '--no-instructions',
    ]);
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  // A port of the range can be held for a moment by another program's connection: the next one then.
  let port = opts.port;
  for (; ; port++) {
    const settings = [
      'listen_addresses=127.0.0.1',
      `port=${port}`,
      `unix_socket_directories=${opts.dir}`,
      'fsync=off',
      'synchronous_commit=off',
      'full_page_writes=off',
      'max_wal_size=4GB',
      'max_connections=100',
    ];
    const logFile = path.join(opts.dir, 'server.log');
    try {
      await pgTool('pg_ctl', [
        'start',
        '-D',
        dataDir,
        '-l',
        logFile,
        '-w',
        '-t',
        '120',
        '-o',
        settings.map((s) => `-c ${s}`).join(' '),
      ]);
      break;
    } catch (error) {
      if (port - opts.port >= 9 || !/already in use/.test(readFileSync(logFile, 'utf8'))) throw error;
      writeFileSync(logFile, '');
    }
  }
  const adminUrl = buildUrl({ user: 'postgres', password, host: '127.0.0.1', port, database: 'postgres' });
  const { majorVersion, version } = await readServerVersion(adminUrl);
  const stop = async () => {
    await pgTool('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '120']);
  };
  return {
    source: 'system',
    adminUrl,
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    majorVersion,
    version,
    binDir,
    stop,
    reused,
  };
}

/** The machine's 1-minute load average, as `uptime` shows it. */
export const load1 = (): string => loadavg()[0]!.toFixed(2);
