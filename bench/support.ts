// Shared by the benchmarks: a PostgreSQL server to measure on (BENCH_DATABASE_URL, or a
// throwaway cluster from this machine's binaries, as the test harness starts one), timing
// helpers, and writing a section of BENCHMARKS.md.
import pg from 'pg';
import { loadConfig, PROJECT_ROOT, type Config } from '../lib/config.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { connectUrlServer } from '../test/support/servers/url.ts';
import { startSystemServer } from '../test/support/servers/system.ts';
import { findSystemInstalls } from '../test/support/servers/discover.ts';
import type { ServerHandle } from '../test/support/servers/common.ts';
import { writeDocSection } from '../test/support/docSection.ts';

export async function benchServer(): Promise<ServerHandle> {
  if (process.env.BENCH_DATABASE_URL) return connectUrlServer(process.env.BENCH_DATABASE_URL);
  const installs = await findSystemInstalls();
  const install = installs[0];
  if (!install) throw new Error('no PostgreSQL binaries found: install postgresql (apt-get install postgresql) or set BENCH_DATABASE_URL');
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
    '# Benchmarks\n\nEach section is written by its benchmark (`npm run bench:<name>`); ratios are measured against the named peer in the same run, on the machine named in the section.\n',
    name,
    body,
  );
}
