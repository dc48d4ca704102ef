// Human output. On a terminal: an ora spinner per step, with its timing. Anywhere else
// (CI, `docker logs`, a pipe): plain timestamped lines, so nothing can be hidden by a
// spinner redrawing over it. Everything, debug lines included, also goes to a per-run log
// file (0600; its directory 0700 when upkit creates it). Every line passes through redact() first.
// Output that cannot be written never stops a run (output.ts): the log file goes on.
// The folder keeps the newest UPKIT_LOG_KEEP upkit log files (logRetention.ts).
import { closeSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Ora } from 'ora';
import { PROJECT_ROOT } from './config.ts';
import { outputClosed, watchOutput, writeOutput } from './output.ts';
import type { UpkitError } from './errors.ts';
import { LOG_CLOSED, logHeader, parseLogKeep, pruneLogs, type LogKeep } from './logRetention.ts';
import { createPrivateFile, ensurePrivateDir } from './privateFiles.ts';
import { shellQuote } from './quote.ts';
import { redact, registerPublic } from './redact.ts';

export type StepStatus = 'ok' | 'failed' | 'skipped' | 'warning';

export interface StepControl {
  /** Replace the spinner text (progress), e.g. bytes written so far. */
  progress(text: string): void;
  /** What the step found, shown after its title when it ends. */
  detail(text: string): void;
  /** End the step as skipped (with the reason) instead of ok. */
  skip(reason: string): void;
  /** End the step as ok but with a warning sign. */
  warn(text: string): void;
  /**
   * End the step by what it found, without throwing (the run goes on to report it): ✖ when a
   * finding is an error, ⚠ when the worst is a warning, ✔ otherwise. A check that found
   * problems never ends with ✔.
   */
  judge(findings: readonly { severity: string }[], text: string): void;
}

/** The mark a step's findings earn: the worst of them. */
export function statusOf(findings: readonly { severity: string }[]): StepStatus {
  if (findings.some((f) => f.severity === 'error')) return 'failed';
  if (findings.some((f) => f.severity === 'warning')) return 'warning';
  return 'ok';
}

export interface StepResult {
  name: string;
  status: StepStatus;
  durationMs: number;
  detail: string;
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Runs fn as a timed step; a throw marks it failed and is rethrown. */
  step<T>(name: string, fn: (step: StepControl) => Promise<T>): Promise<T>;
  /** Every step so far, in order, for the report. */
  readonly steps: readonly StepResult[];
  readonly logFile: string | undefined;
  /** UPKIT_LOG_KEEP is not valid: the command stops with it (exit 2) before anything runs; nothing was pruned. */
  readonly configProblem: UpkitError | undefined;
  close(): void;
}

export interface LoggerOptions {
  command: string;
  stream?: NodeJS.WriteStream;
  /** Spinners; default: the stream is a terminal and CI is not set. */
  interactive?: boolean;
  /** Default: off when NO_COLOR is set or the output is not interactive. */
  color?: boolean;
  /** Default: UPKIT_LOG_DIR, else logs/ beside upkit. `false`: no log file. */
  logDir?: string | false;
  /** How many upkit log files the folder keeps. Default: UPKIT_LOG_KEEP, else 100. */
  logKeep?: LogKeep;
  now?: () => Date;
  /** Milliseconds on a monotonic clock, for the steps' durations. Default: performance.now(). */
  clock?: () => number;
}

const PLAIN_PROGRESS_EVERY_MS = 5000;

const SYMBOLS: Record<StepStatus | 'info', string> = { ok: '✔', failed: '✖', skipped: '–', warning: '⚠', info: 'ℹ' };
const COLORS: Record<StepStatus, number> = { ok: 32, failed: 31, skipped: 90, warning: 33 };

function timestamp(d: Date): string {
  return d.toISOString();
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * The log folder is made 0700 when upkit creates it; one that exists (UPKIT_LOG_DIR) keeps its
 * mode. The first line names the run (command, pid, host): retention deletes only files that
 * start with it, once that run has ended.
 */
function openLogFile(dir: string, command: string, now: Date): { fd: number; file: string } {
  ensurePrivateDir(dir);
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const base = path.join(dir, `${command}-${stamp}-${process.pid}`);
  for (let i = 1; ; i++) {
    const file = i === 1 ? `${base}.log` : `${base}-${i}.log`;
    let fd: number;
    try {
      fd = createPrivateFile(file, 'ax');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      continue;
    }
    writeSync(fd, `${timestamp(now)} info  ${logHeader(command)}\n`);
    return { fd, file };
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const clock = options.clock ?? (() => performance.now());
  const interactive = options.interactive ?? (Boolean(stream.isTTY) && !process.env.CI && process.env.TERM !== 'dumb');
  const color = options.color ?? (interactive && !process.env.NO_COLOR);
  const paint = (code: number, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const steps: StepResult[] = [];
  const pendingDebug: string[] = [];

  let fd: number | undefined;
  let logFile: string | undefined;
  let fileProblem: string | undefined;
  let retentionProblem: string | undefined;
  let unproven: { dir: string; names: string[]; keep: number } | undefined;
  const keep = options.logKeep ?? parseLogKeep(process.env.UPKIT_LOG_KEEP);
  const configProblem = typeof keep === 'object' ? keep : undefined;
  const dir = options.logDir ?? process.env.UPKIT_LOG_DIR ?? path.join(PROJECT_ROOT, 'logs');
  if (dir !== false) {
    try {
      registerPublic(path.resolve(dir));
      ({ fd, file: logFile } = openLogFile(path.resolve(dir), options.command, now()));
    } catch (err) {
      fileProblem = `no log file: cannot write in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    }
    // With the run's own file open, so that it counts among the files kept; a retention
    // that is not valid prunes nothing (the command stops with configProblem).
    if (logFile && typeof keep !== 'object') {
      try {
        const pruned = pruneLogs(path.dirname(logFile), keep, logFile);
        retentionProblem = pruned.problem;
        if (pruned.unproven.length && keep !== 'all')
          unproven = { dir: path.dirname(logFile), names: pruned.unproven, keep };
        if (pruned.deleted.length)
          pendingDebug.push(`log retention (UPKIT_LOG_KEEP ${keep}): deleted ${pruned.deleted.join(', ')}`);
      } catch (err) {
        retentionProblem = err instanceof Error ? err.message : String(err);
      }
    }
  }

  const toFile = (level: string, message: string) => {
    if (fd === undefined) return;
    const text = redact(message);
    for (const line of text.split('\n')) writeSync(fd, `${timestamp(now())} ${level.padEnd(5)} ${line}\n`);
  };
  let spinner: Ora | undefined;
  const stopSpinner = () => {
    try {
      spinner?.stop();
    } catch {
      // the stream is gone; stopping its timer is all that mattered
    }
    spinner = undefined;
  };
  const toScreen = (line: string) => {
    const text = redact(line);
    if (outputClosed(stream)) return;
    if (spinner?.isSpinning) spinner.clear();
    writeOutput(
      stream,
      interactive
        ? `${text}\n`
        : text
            .split('\n')
            .map((l) => `${timestamp(now())} ${l}`)
            .join('\n') + '\n',
    );
    if (spinner?.isSpinning) spinner.render();
  };

  // A spinner on a terminal that hung up would go on redrawing into nothing.
  watchOutput(stream, stopSpinner);

  const logger: Logger = {
    steps,
    logFile,
    configProblem,
    debug: (m) => toFile('debug', m),
    info(m) {
      toFile('info', m);
      toScreen(m);
    },
    warn(m) {
      toFile('warn', m);
      toScreen(`${paint(33, SYMBOLS.warning)} ${m}`);
    },
    error(m) {
      toFile('error', m);
      toScreen(`${paint(31, SYMBOLS.failed)} ${m}`);
    },
    async step(name, fn) {
      const started = clock();
      let status: StepStatus = 'ok';
      let detail = '';
      toFile('info', `step ${name}: started`);
      if (interactive && !outputClosed(stream)) {
        // Loaded on a terminal's first step only: ora is a tenth of a second of start-up that
        // cron, CI and --json runs never need.
        const { default: ora } = await import('ora');
        spinner = ora({
          text: redact(name),
          stream,
          color: color ? 'cyan' : false,
          discardStdin: false,
          isEnabled: true,
        }).start();
      }
      // Without a terminal a step announces itself only when it is slow, so that a hang
      // shows what it is waiting on without doubling every line.
      const announce = interactive
        ? undefined
        : setTimeout(() => writeOutput(stream, `${timestamp(now())} ▸ ${redact(name)} …\n`), 1000);
      let lastPlainProgress = 0;
      const control: StepControl = {
        progress(text) {
          toFile('debug', `step ${name}: ${text}`);
          if (spinner?.isSpinning) spinner.text = redact(`${name}  ${text}`);
          else if (!interactive && clock() - lastPlainProgress >= PLAIN_PROGRESS_EVERY_MS) {
            // Without a terminal, progress is a line every few seconds, not a flood.
            lastPlainProgress = clock();
            writeOutput(stream, `${timestamp(now())}   ${redact(name)}: ${redact(text)}\n`);
          }
        },
        detail(text) {
          detail = text;
        },
        skip(reason) {
          status = 'skipped';
          detail = reason;
        },
        warn(text) {
          status = 'warning';
          detail = text;
        },
        judge(findings, text) {
          // A step that was skipped and found nothing stays skipped.
          const found = statusOf(findings);
          if (status !== 'skipped' || found !== 'ok') status = found;
          detail = text;
        },
      };
      const finish = () => {
        clearTimeout(announce);
        const durationMs = Math.round(clock() - started);
        steps.push({ name, status, durationMs, detail: redact(detail) });
        const line = `${name}${detail ? `  ${detail}` : ''} ${paint(90, `(${formatDuration(durationMs)})`)}`;
        toFile(
          status === 'failed' ? 'error' : 'info',
          `step ${name}: ${status}${detail ? ` - ${detail}` : ''} (${durationMs} ms)`,
        );
        const symbol = paint(COLORS[status], SYMBOLS[status]);
        if (spinner) {
          if (!outputClosed(stream)) spinner.stopAndPersist({ symbol, text: redact(line) });
          spinner = undefined;
        } else {
          writeOutput(stream, `${timestamp(now())} ${symbol} ${redact(line)}\n`);
        }
      };
      try {
        const result = await fn(control);
        finish();
        return result;
      } catch (err) {
        status = 'failed';
        if (!detail) detail = err instanceof Error ? err.message : String(err);
        finish();
        throw err;
      }
    },
    close() {
      stopSpinner();
      if (fd !== undefined) {
        // The last line: the run has ended, which retention can read in any host's file.
        toFile('info', LOG_CLOSED);
        closeSync(fd);
      }
      fd = undefined;
    },
  };
  if (fileProblem) logger.warn(fileProblem);
  for (const line of pendingDebug) logger.debug(line);
  // In the log file only: retention that could not delete never troubles the run.
  if (retentionProblem) toFile('warn', `log retention: ${retentionProblem}; the run goes on`);
  if (unproven) {
    const n = unproven.names.length;
    logger.warn(
      `${n} ${n === 1 ? 'file' : 'files'} in ${unproven.dir} ${n === 1 ? 'is' : 'are'} named like upkit's logs and older than the newest ${unproven.keep}, but upkit cannot prove it wrote ${n === 1 ? 'it' : 'them'}, so ${n === 1 ? 'it is' : 'they are'} kept (the oldest: ${unproven.names[0]})`,
    );
    logger.info(
      `  → look at ${n === 1 ? 'it' : 'them'} and delete what is not needed: ls -l -- ${shellQuote(unproven.dir)}`,
    );
  }
  return logger;
}
