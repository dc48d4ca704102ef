import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import type { ServerSource } from '../serverSelection.ts';

export interface ServerHandle {
  source: ServerSource;
  /** Superuser, over TCP, with a password. */
  adminUrl: string;
  host: string;
  port: number;
  user: string;
  password: string;
  majorVersion: number;
  /** e.g. `15.18`: the first word of `server_version`. */
  version: string;
  /** Where the server's binaries are, when they are on this machine. */
  binDir?: string;
  stop(): Promise<void>;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  override name = 'CommandError';
}

/** execFile without a shell; the error names the command and carries its stderr. */
export function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const detail = String(stderr).trim() || String(stdout).trim() || error.message;
          reject(new CommandError(`${[file, ...args].join(' ')} failed: ${detail}`, { cause: error }));
        } else {
          resolve({ stdout: String(stdout), stderr: String(stderr) });
        }
      },
    );
  });
}

/** Asks the kernel for a free port. Another process may take it before the server binds,
 * so starters retry with a new port when the server reports the address in use. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port the kernel chose'));
      });
    });
  });
}

export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

export function buildUrl(p: { user: string; password: string; host: string; port: number; database: string }): string {
  const auth = `${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}`;
  return `postgres://${auth}@${p.host}:${p.port}/${encodeURIComponent(p.database)}`;
}

/** Drops the password, for messages a person reads. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export interface ServerVersion {
  majorVersion: number;
  version: string;
  isSuperuser: boolean;
}

export async function readServerVersion(url: string): Promise<ServerVersion> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ num: string; version: string; superuser: boolean }>(
      `select current_setting('server_version_num') as num,
              current_setting('server_version') as version,
              (select rolsuper from pg_roles where rolname = current_user) as superuser`,
    );
    const row = rows[0];
    if (!row) throw new Error('server_version_num returned no row');
    return {
      majorVersion: Math.floor(Number(row.num) / 10_000),
      version: row.version.split(' ')[0] ?? row.version,
      isSuperuser: row.superuser,
    };
  } finally {
    await client.end();
  }
}

/** Environment for PostgreSQL child processes: the caller's PG* settings must not leak in. */
export function cleanPgEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG') && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return { ...env, LC_MESSAGES: 'C', ...extra };
}
