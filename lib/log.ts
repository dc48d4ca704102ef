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

/** ANSI colour when `color`, the text as it is otherwise. */
function painter(color: boolean): (code: number, s: string) => string {
  return (code, s) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
}

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const clock = options.clock ?? (() => performance.now());
  const interactive = options.interactive ?? (Boolean(stream.isTTY) && !process.env.CI && process.env.TERM !== 'dumb');
  const color = options.color ?? (interactive && !process.env.NO_COLOR);
  const paint = painter(color);
  const steps: StepResult[] = [];
  const keep = options.logKeep ?? parseLogKeep(process.env.UPKIT_LOG_KEEP);
  const configProblem = typeof keep === 'object' ? keep : undefined;
  const opened = openRunLog(options, keep, now());
  let fd = opened.fd;
  const logFile = opened.logFile;

  const toFile = (level: string, message: string) => {
    if (fd === undefined) return;
    const text = redact(message);
    for (const line of text.split('\n')) writeSync(fd, `${timestamp(now())} ${level.padEnd(5)} ${line}\n`);
  };
  const screen: StepContext['screen'] = { spinner: undefined };
  const stopSpinner = () => {
    try {
      screen.spinner?.stop();
    } catch {
      // the stream is gone; stopping its timer is all that mattered
    }
    screen.spinner = undefined;
  };
  const toScreen = (line: string) => {
    const text = redact(line);
    if (outputClosed(stream)) return;
    if (screen.spinner?.isSpinning) screen.spinner.clear();
    writeOutput(
      stream,
      interactive
        ? `${text}\n`
        : `${text
            .split('\n')
            .map((l) => `${timestamp(now())} ${l}`)
            .join('\n')}\n`,
    );
    if (screen.spinner?.isSpinning) screen.spinner.render();
  };

  const stepContext: StepContext = { stream, interactive, color, now, clock, steps, toFile, screen };

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
    step: (name, fn) => runStep(stepContext, name, fn),
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
  if (opened.fileProblem) logger.warn(opened.fileProblem);
  for (const line of opened.pendingDebug) logger.debug(line);
  // In the log file only: retention that could not delete never troubles the run.
  if (opened.retentionProblem) toFile('warn', `log retention: ${opened.retentionProblem}; the run goes on`);
  if (opened.unproven) warnUnproven(logger, opened.unproven);
  return logger;
}

/** What a step needs of its logger: the output, its clocks, the log file and the steps so far. */
interface StepContext {
  stream: NodeJS.WriteStream;
  interactive: boolean;
  color: boolean;
  now: () => Date;
  clock: () => number;
  steps: StepResult[];
  toFile: (level: string, message: string) => void;
  /** The spinner of the step under way, on a terminal. */
  screen: { spinner: Ora | undefined };
}

/**
 * One timed step: started (a spinner on a terminal), its progress shown, its outcome logged; a throw marks it failed.
 */
async function runStep<T>(ctx: StepContext, name: string, fn: (step: StepControl) => Promise<T>): Promise<T> {
  const { stream, interactive, color, now, clock, steps, toFile, screen } = ctx;
  const paint = painter(color);
  const started = clock();
  toFile('info', `step ${name}: started`);
  if (interactive && !outputClosed(stream)) {
    // Loaded on a terminal's first step only: ora is a tenth of a second of start-up that
    // cron, CI and --json runs never need.
    const { default: ora } = await import('ora');
    screen.spinner = ora({
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
  const progress = (text: string) => {
    toFile('debug', `step ${name}: ${text}`);
    if (screen.spinner?.isSpinning) screen.spinner.text = redact(`${name}  ${text}`);
    else if (!interactive && clock() - lastPlainProgress >= PLAIN_PROGRESS_EVERY_MS) {
      // Without a terminal, progress is a line every few seconds, not a flood.
      lastPlainProgress = clock();
      writeOutput(stream, `${timestamp(now())}   ${redact(name)}: ${redact(text)}\n`);
    }
  };
  const outcome: StepOutcome = { status: 'ok', detail: '' };
  const control = stepControl(outcome, progress);
  const finish = () => {
    const { status, detail } = outcome;
    clearTimeout(announce);
    const durationMs = Math.round(clock() - started);
    steps.push({ name, status, durationMs, detail: redact(detail) });
    const line = `${name}${detail ? `  ${detail}` : ''} ${paint(90, `(${formatDuration(durationMs)})`)}`;
    toFile(
      status === 'failed' ? 'error' : 'info',
      `step ${name}: ${status}${detail ? ` - ${detail}` : ''} (${durationMs} ms)`,
    );
    const symbol = paint(COLORS[status], SYMBOLS[status]);
    if (screen.spinner) {
      if (!outputClosed(stream)) screen.spinner.stopAndPersist({ symbol, text: redact(line) });
      screen.spinner = undefined;
    } else {
      writeOutput(stream, `${timestamp(now())} ${symbol} ${redact(line)}\n`);
    }
  };
  try {
    const result = await fn(control);
    finish();
    return result;
  } catch (err) {
    outcome.status = 'failed';
    if (!outcome.detail) outcome.detail = err instanceof Error ? err.message : String(err);
    finish();
    throw err;
  }
}

/** What a step's function reports through its StepControl: how it ended and the line's detail. */
interface StepOutcome {
  status: StepStatus;
  detail: string;
}

/** The StepControl a step's function gets: it sets the outcome; progress goes to `progress`. */
function stepControl(outcome: StepOutcome, progress: (text: string) => void): StepControl {
  return {
    progress,
    detail(text) {
      outcome.detail = text;
    },
    skip(reason) {
      outcome.status = 'skipped';
      outcome.detail = reason;
    },
    warn(text) {
      outcome.status = 'warning';
      outcome.detail = text;
    },
    judge(findings, text) {
      // A step that was skipped and found nothing stays skipped.
      const found = statusOf(findings);
      if (outcome.status !== 'skipped' || found !== 'ok') outcome.status = found;
      outcome.detail = text;
    },
  };
}

interface RunLog {
  fd: number | undefined;
  logFile: string | undefined;
  /** Why there is no log file, for the screen. */
  fileProblem: string | undefined;
  /** Why retention could not prune, for the log file only. */
  retentionProblem: string | undefined;
  /** Files named like upkit's logs that retention would delete but cannot prove upkit wrote. */
  unproven: Unproven | undefined;
  /** Lines for the log file once the logger exists. */
  pendingDebug: string[];
}

interface Unproven {
  dir: string;
  names: string[];
  keep: number;
}

/** The run's log file opened (unless logDir is false), then the folder pruned to the files kept. */
function openRunLog(options: LoggerOptions, keep: LogKeep | UpkitError, now: Date): RunLog {
  const log: RunLog = {
    fd: undefined,
    logFile: undefined,
    fileProblem: undefined,
    retentionProblem: undefined,
    unproven: undefined,
    pendingDebug: [],
  };
  const dir = options.logDir ?? process.env.UPKIT_LOG_DIR ?? path.join(PROJECT_ROOT, 'logs');
  if (dir === false) return log;
  try {
    registerPublic(path.resolve(dir));
    ({ fd: log.fd, file: log.logFile } = openLogFile(path.resolve(dir), options.command, now));
  } catch (err) {
    log.fileProblem = `no log file: cannot write in ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  // With the run's own file open, so that it counts among the files kept; a retention
  // that is not valid prunes nothing (the command stops with configProblem).
  if (log.logFile && typeof keep !== 'object') {
    try {
      const pruned = pruneLogs(path.dirname(log.logFile), keep, log.logFile);
      log.retentionProblem = pruned.problem;
      if (pruned.unproven.length && keep !== 'all')
        log.unproven = { dir: path.dirname(log.logFile), names: pruned.unproven, keep };
      if (pruned.deleted.length)
        log.pendingDebug.push(`log retention (UPKIT_LOG_KEEP ${keep}): deleted ${pruned.deleted.join(', ')}`);
    } catch (err) {
      log.retentionProblem = err instanceof Error ? err.message : String(err);
    }
  }
  return log;
}

/** Files retention kept because upkit cannot prove it wrote them: a warning and where to look. */
function warnUnproven(logger: Logger, unproven: Unproven): void {
  const n = unproven.names.length;
  logger.warn(
    `${n} ${n === 1 ? 'file' : 'files'} in ${unproven.dir} ${n === 1 ? 'is' : 'are'} named like ` +
      `upkit's logs and older than the newest ${unproven.keep}, but upkit cannot prove it wrote ` +
      `${n === 1 ? 'it' : 'them'}, so ${n === 1 ? 'it is' : 'they are'} kept (the oldest: ${unproven.names[0]})`,
  );
  logger.info(
    `  → look at ${n === 1 ? 'it' : 'them'} and delete what is not needed: ls -l -- ${shellQuote(unproven.dir)}`,
  );
}
