// Runs upkit's entry points as child processes, with a clean environment and a private log
// directory: the launcher bin/upkit as it is; an entry file (upgrade.ts, scripts/status.ts...)
// from the compiled tree .build/ while it is current (test/support/buildSetup.ts builds it once
// per run; `node .build/upgrade.js` behaves as `npx zx upgrade.ts`, in a quarter of the time),
// else, with `via: 'zx'` or UPKIT_TEST_VIA=zx, through zx with the tsx loader, as `npx zx FILE`
// does through .npmrc.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from '../../lib/report.ts';
import { compiledIsCurrent, zxForced } from './buildSetup.ts';
import { hiddenClientBinDir } from './servers/hidden.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ZX_CLI = path.join(ROOT, 'node_modules/zx/build/cli.js');
// By URL, because `--import tsx` resolves from the working directory, which tests vary.
const TSX_LOADER = import.meta.resolve('tsx');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  logDir: string;
  /** Every log file the run wrote, concatenated. */
  logs(): string;
  /** stdout parsed as the one JSON report of `--json`. */
  json<T = Report>(): T;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Its own process group (pid = group id), so that a test can kill it with its children: process.kill(-pid). */
  detached?: boolean;
  /** Called with the child's pid once it is running. */
  onSpawn?: (pid: number) => void;
  /** The node binary that runs upkit (default: the one running the tests). */
  node?: string;
  /**
   * How an entry file runs: 'zx', through zx and the tsx loader exactly as `npx zx FILE` (for
   * tests of that path itself, of zx or tsx, or of another Node); 'auto' (the default), compiled
   * from .build/ while it is current, else as 'zx'. The launcher bin/upkit always runs as it is.
   */
  via?: 'zx' | 'auto';
}

/** The command line that starts an entry file: compiled when allowed and current, else zx and tsx. */
export function entryCommand(entry: string, args: readonly string[], options: RunOptions = {}): [string, string[]] {
  const node = options.node ?? process.execPath;
  if (options.via !== 'zx' && !zxForced()) {
    const compiled = path.join(ROOT, '.build', entry.replace(/\.ts$/, '.js'));
    // Not every entry file is compiled (scripts/demo.ts is not): those run through zx.
    if (existsSync(compiled) && compiledIsCurrent(ROOT)) return [node, [compiled, ...args]];
  }
  return [node, ['--import', TSX_LOADER, ZX_CLI, path.join(ROOT, entry), ...args]];
}

/** The variables a run sees: nothing of the caller's database settings leaks in. */
export function baseEnv(logDir: string): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SystemRoot'];
  // A cache of replayed schemas of its own per run, unless a test shares one on purpose.
  const env: Record<string, string> = {
    UPKIT_LOG_DIR: logDir,
    UPKIT_CACHE_DIR: path.join(logDir, 'cache'),
    NO_COLOR: '1',
  };
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  // UPKIT_TEST_HIDE_SYSTEM_PG=all: upkit finds no pg_dump, as on a machine without one.
  const noClientPrograms = hiddenClientBinDir();
  if (noClientPrograms) env.UPKIT_PG_BINDIR = noClientPrograms;
  return env;
}

export function runUpkit(entry: string, args: string[] = [], options: RunOptions = {}): Promise<RunResult> {
  const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-logs-'));
  const env: Record<string, string> = baseEnv(logDir);
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // The launcher (bin/upkit) runs as an operator types it: no loader, no zx.
    const argv = entry.startsWith('bin/')
      ? ([path.join(ROOT, entry), args] as const)
      : entryCommand(entry, args, options);
    const child = spawn(argv[0], argv[1], {
      cwd: options.cwd ?? mkdtempSync(path.join(tmpdir(), 'upkit-cwd-')),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached === true,
    });
    if (child.pid) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 45_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(runResult({ code, signal, stdout, stderr, started, logDir }));
    });
  });
}

/** A run's result, from a child (runUpkit) or in process (inProcess.ts): its output, logs and report. */
export function runResult(run: {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** performance.now() when the run started. */
  started: number;
  logDir: string;
}): RunResult {
  const { code, signal, stdout, stderr, logDir } = run;
  return {
    code,
    signal,
    stdout,
    stderr,
    durationMs: performance.now() - run.started,
    logDir,
    logs: () =>
      readdirSync(logDir)
        .map((f) => readFileSync(path.join(logDir, f), 'utf8'))
        .join('\n'),
    json: <T>() => JSON.parse(stdout) as T,
  };
}

/** Samples every process's command line while `during` runs (Linux /proc). */
export async function sampleArgv<T>(
  during: () => Promise<T>,
  everyMs = 10,
): Promise<{ result: T; commandLines: Set<string> }> {
  const commandLines = new Set<string>();
  let running = true;
  const sample = () => {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        commandLines.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
      } catch {
        // the process ended between listing and reading
      }
    }
  };
  const loop = (async () => {
    while (running) {
      sample();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  try {
    const result = await during();
    return { result, commandLines };
  } finally {
    running = false;
    await loop;
  }
}

/** `npx zx FILE` from upkit's directory, exactly as an operator types it (.npmrc loads tsx). */
export function runNpxZx(entry: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['zx', entry, ...args],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          NO_COLOR: '1',
          UPKIT_LOG_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-logs-')),
        },
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}
