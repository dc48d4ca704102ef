// An application that runs upkit at start-up: a folder of its own whose node_modules/upkit
// is this checkout (as a folder dependency installs it), a drizzle folder, and a boot script
// run with plain `node` that imports 'upkit' and calls one of its functions. The script
// records what the library did to the process: writes to stdout, calls of process.exit,
// signal and exit listeners added, process.exitCode.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Report } from '../../lib/report.ts';
import { column, table, writeAppFolder } from './appFolders.ts';
import { ROOT } from './cli.ts';

/** The server-level advisory lock the slow migration takes: held by a test, it keeps the migrator waiting. */
export const GATE_KEY = 4242;

export const APP_MIGRATIONS = [
  { tag: '0000_accounts', sql: 'CREATE TABLE "accounts" ("id" integer PRIMARY KEY NOT NULL, "email" text);' },
  {
    tag: '0001_sessions',
    sql:
      `SELECT pg_advisory_xact_lock(${GATE_KEY});\n--> statement-breakpoint\nCREATE ` +
      `TABLE "sessions" ("id" integer PRIMARY KEY NOT NULL, "account_id" integer);`,
  },
  { tag: '0002_accounts_name', sql: 'ALTER TABLE "accounts" ADD COLUMN "name" text;' },
];

const SNAPSHOT = {
  tables: Object.fromEntries([
    table('public', 'accounts', [
      column('id', 'integer', { primaryKey: true, notNull: true }),
      column('email', 'text'),
      column('name', 'text'),
    ]),
    table('public', 'sessions', [
      column('id', 'integer', { primaryKey: true, notNull: true }),
      column('account_id', 'integer'),
    ]),
  ]),
};

// What the app's start-up does; everything the library could do to the process is watched.
const BOOT =
  `import { writeFileSync } from 'node:fs';
const stdout = [];
process.stdout.write = (chunk) => { stdout.push(String(chunk)); return true; };
const exits = [];
process.exit = (code) => { exits.push(code ?? null); throw new Error('process.exit was called'); };
const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection'];
const listeners = () => Object.fromEntries(events.map((e) => [e, process.listenerCount(e)]));
const { upgrade, verify } = await import('upkit');
const before = listeners();
const calls = JSON.parse(process.env.BOOT_CALLS);
const results = [];
for (const call of calls) {
  const options = { ...call.options };
  if (call.abortOnWait) {
    // Stopped the moment the library says it waits for the lock, as a deploy that gives up would.
    const controller = new AbortController();
    options.signal = controller.signal;
    options.log = { write(text) { process.stderr.write(text); ` +
  `if (text.includes('waiting up to')) controller.abort(); return true; } };
  }
  const fn = call.fn === 'verify' ? verify : upgrade;
  results.push(await fn(options));
}
writeFileSync(process.env.BOOT_OUT, JSON.stringify({ results, stdout, ` +
  `exits, before, after: listeners(), exitCode: process.exitCode ?? null }));
`;

export interface StartupApp {
  dir: string;
  drizzleDir: string;
}

/** What upkit ships to an app: its package files and the content and code they load. */
const SHIPPED = ['package.json', 'index.js', 'index.d.ts', 'lib', 'verify', 'profiles', 'drizzle', 'legacy-sql'];

/**
 * The app's folder: package.json, node_modules/upkit, drizzle/, boot.mjs. upkit is linked to
 * this checkout (a folder dependency), or with `copy` copied into node_modules (as a git
 * dependency is installed), its own dependencies beside it.
 */
export function startupApp(options: { copy?: boolean } = {}): StartupApp {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-boot-app-'));
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify(
      { name: 'boot-app', private: true, type: 'module', dependencies: { upkit: `file:${ROOT}` } },
      null,
      2,
    ),
  );
  mkdirSync(path.join(dir, 'node_modules'));
  const upkit = path.join(dir, 'node_modules', 'upkit');
  if (options.copy) {
    for (const f of SHIPPED) cpSync(path.join(ROOT, f), path.join(upkit, f), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(upkit, 'node_modules'), 'dir');
  } else {
    symlinkSync(ROOT, upkit, 'dir');
  }
  const drizzleDir = writeAppFolder(APP_MIGRATIONS, SNAPSHOT, path.join(dir, 'drizzle'));
  writeFileSync(path.join(dir, 'boot.mjs'), BOOT);
  return { dir, drizzleDir };
}

export interface BootCall {
  fn: 'upgrade' | 'verify';
  options: Record<string, unknown>;
  /** Aborts the call's signal as soon as its log says it waits for the run lock. */
  abortOnWait?: boolean;
}

export interface ApiResultShape {
  ok: boolean;
  exitCode: number;
  status: string;
  outcome: string;
  report: Report;
}

export interface Boot {
  code: number | null;
  stderr: string;
  results: ApiResultShape[];
  /** What was written to stdout while the library ran. */
  stdout: string[];
  exits: Array<number | null>;
  before: Record<string, number>;
  after: Record<string, number>;
  exitCode: number | null;
}

/** Starts `node boot.mjs` in the app's folder (a clean environment plus `env`); resolves when it ends. */
export function boot(
  app: StartupApp,
  calls: BootCall[],
  env: Record<string, string> = {},
  onSpawn?: (pid: number) => void,
): Promise<Boot> {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'upkit-boot-out-')), 'result.json');
  const childEnv: Record<string, string> = { NO_COLOR: '1', BOOT_OUT: out, BOOT_CALLS: JSON.stringify(calls), ...env };
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[k] !== undefined) childEnv[k] = process.env[k]!;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['boot.mjs'], {
      cwd: app.dir,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid) onSpawn?.(child.pid);
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let recorded: Omit<Boot, 'code' | 'stderr'>;
      try {
        recorded = JSON.parse(readFileSync(out, 'utf8'));
      } catch {
        reject(
          new Error(`boot.mjs wrote no result (exit ${code})\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`),
        );
        return;
      }
      // What reached the real stdout besides what the script caught: nothing is allowed.
      if (stdout) recorded.stdout.push(stdout);
      resolve({ code, stderr, ...recorded });
    });
  });
}
