// The one way every entry point runs: strict flag parsing, --help, configuration, logger,
// report, signals, and the mapping of whatever happened to one exit code. Entry points
// stay thin: `process.exitCode = await runCommand(spec, import.meta.url)`. What a command is
// and how its command line is parsed is lib/cliSpec.ts, which help and usage need alone.
import { endChildren } from './children.ts';
import path from 'node:path';
import { givenEnvFile, loadConfig, PROJECT_ROOT, type Config } from './config.ts';
import { visible } from './escape.ts';
import { EXIT, exitCodeFor, isUpkitError, UpkitError, usageError } from './errors.ts';
import { createLogger, formatDuration, type Logger } from './log.ts';
import { streamName, watchOutput, writeOutput } from './output.ts';
import { shellQuote } from './quote.ts';
import { isPgError, formatPgError } from './pgError.ts';
import { redact, registerPublic } from './redact.ts';
import { ReportBuilder, type Report } from './report.ts';
import { exitHeld } from './backup/cleanup.ts';
import { showConfigWarnings } from './configWarnings.ts';
import { argsAfter, helpOnly, parseCommandLine, usage, type CommandContext, type CommandSpec } from './cliSpec.ts';
import { VERSION } from './version.ts';
import { TARGET_OPTIONS, wantsTargets } from './targets/flags.ts';
import type { TargetCommand } from './targets/run.ts';

export {
  argsAfter,
  COMMON_OPTIONS,
  helpOnly,
  parseCommandLine,
  usage,
  type CommandContext,
  type CommandSpec,
  type OptionSpec,
} from './cliSpec.ts';
export { VERSION } from './version.ts';
export { TARGET_OPTIONS };

/** Prints an error as one line, its details indented under it, and the hint. */
export function renderError(log: Logger, err: unknown): void {
  if (isUpkitError(err)) {
    // Each a line of its own: a name holding a newline cannot add one.
    log.error([visible(err.message), ...err.details.map((d) => `    ${visible(d)}`)].join('\n'));
    if (err.hint) log.info(`  → ${visible(err.hint)}`);
    if (err.cause && !isUpkitError(err.cause))
      log.debug(`cause: ${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : String(err.cause)}`);
    return;
  }
  if (isPgError(err)) {
    const { headline, details } = formatPgError(err);
    log.error([headline, ...details.map((d) => `    ${d}`)].join('\n'));
  } else {
    log.error(`unexpected error: ${err instanceof Error ? err.message : String(err)}`);
  }
  log.debug(err instanceof Error ? (err.stack ?? err.message) : String(err));
  if (log.logFile) log.info(`  → the log file has the details: ${shellQuote(log.logFile)}`);
}

/**
 * The error that ended a command, as a finding of the --json report, unless the command has
 * already reported its errors as findings itself (preflight's checks, health's endpoints).
 */
export function recordError(report: ReportBuilder, err: unknown): void {
  if (report.hasErrors()) return;
  if (isUpkitError(err)) {
    report.finding('error', err.code, err.message, err.hint);
    return;
  }
  if (isPgError(err)) {
    const { headline } = formatPgError(err);
    report.finding('error', `pg.${(err as { code?: string }).code ?? 'error'}`, headline, 'see the log file');
    return;
  }
  report.finding(
    'error',
    'unexpected',
    `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
    'see the log file',
  );
}

/**
 * The names and paths an operator gave upkit stay whole in every message, even where a
 * password happens to be part of them (redact.ts). Passwords never come on the command line.
 */
function registerPublicNames(
  config: Config | undefined,
  values: CommandContext['values'],
  positionals: readonly string[],
  cwd = process.cwd(),
): void {
  for (const v of [...Object.values(values), ...positionals]) {
    if (typeof v !== 'string') continue;
    registerPublic(v);
    if (v.includes('/')) registerPublic(path.resolve(cwd, v));
  }
  registerPublic(cwd);
  registerPublic(PROJECT_ROOT);
  if (!config) return;
  for (const t of [config.db, config.migrationDb]) {
    registerPublic(t.user);
    registerPublic(t.database);
    registerPublic(t.host);
  }
  for (const p of [
    config.backupDir,
    config.drizzleDir,
    config.legacyDir,
    config.composeFile,
    config.envFile,
    config.pgBinDir,
    config.sslCa,
  ]) {
    registerPublic(p);
    if (p) registerPublic(path.resolve(cwd, p));
  }
}

/**
 * Ctrl-C, `kill`/`docker stop`/systemd, and a terminal or SSH session that hangs up: each
 * stops a run the same way (rolled back, run lock released, exit 130), never at once.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Where an in-process command reads its configuration and writes its output. */
export interface CommandIO {
  /** The environment configuration is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The directory `.env`, relative paths and --dotenv are read from (default: process.cwd()). */
  cwd?: string;
  /** Where progress and errors go (default: stderr). */
  stream?: NodeJS.WriteStream;
  /** Where the command's result for a person goes (default: stdout, or `stream` with --json). */
  out?: (text: string) => void;
  /** The log folder (default: UPKIT_LOG_DIR, else logs/ beside upkit); false: no log file. */
  logDir?: string | false;
  /** Stops the command as a signal would: rolled back, lock released, exit 130. */
  signal?: AbortSignal;
  /** Spinners on the stream (default: the stream is a terminal and CI is not set). */
  interactive?: boolean;
}

export interface CommandResult {
  exitCode: number;
  report: Report;
}

interface Invocation {
  log: Logger;
  report: ReportBuilder;
  controller: AbortController;
  io: CommandIO;
  /** Set when the stop was already rendered (a read-only command stopped at once). */
  stoppedEarly: () => boolean;
  /** Stops following io.signal: a caller's signal outlives the command (one per run over targets). */
  release: () => void;
}

function startInvocation(spec: CommandSpec, args: readonly string[], io: CommandIO): Invocation {
  const log = createLogger({ command: spec.name, stream: io.stream, logDir: io.logDir, interactive: io.interactive });
  const report = new ReportBuilder(spec.name, VERSION);
  log.debug(
    `upkit ${VERSION} ${spec.name} ${args.map((a) => JSON.stringify(a)).join(' ')}` +
      ` (node ${process.version}, pid ${process.pid})`,
  );
  // Which modules bin/upkit.js chose (the compiled tree, or the sources); unset for an entry file or the library.
  const modules = (globalThis as Record<symbol, unknown>)[Symbol.for('upkit.modules')];
  if (typeof modules === 'string') log.debug(`modules: ${modules}`);
  const controller = new AbortController();
  let release = () => {};
  if (io.signal) {
    const signal = io.signal;
    const follow = () => controller.abort(signal.reason);
    if (signal.aborted) follow();
    else {
      signal.addEventListener('abort', follow, { once: true });
      release = () => signal.removeEventListener('abort', follow);
    }
  }
  return { log, report, controller, io, stoppedEarly: () => false, release };
}

/** Parses, reads the configuration and runs the command; whatever it throws becomes its exit code. */
async function invoke(spec: CommandSpec, args: string[], inv: Invocation): Promise<number> {
  const { log, report, controller, io } = inv;
  try {
    const { values, positionals, help } = parseCommandLine(spec, args);
    if (help) {
      if (io.out) io.out(usage(spec));
      else writeOutput(process.stdout, `${usage(spec)}\n`);
      return EXIT.ok;
    }
    if (log.configProblem) throw log.configProblem;
    // One database per run here: a run over targets is the runner's (runCommand), never ignored.
    const targetFlag = Object.keys(TARGET_OPTIONS).find((k) => values[k] !== undefined);
    if (targetFlag)
      throw usageError(
        `--${targetFlag} runs the command over the targets file, ` +
          `which only the command line does; here it runs for one database`,
        `run: ${spec.invocation} --${targetFlag}` +
          `${values[targetFlag] === true ? '' : ` ${shellQuote(String(values[targetFlag]))}`}`,
      );
    registerPublicNames(undefined, values, positionals, io.cwd);
    const envFile = givenEnvFile(values, spec.invocation);
    const config =
      spec.config === false
        ? (undefined as unknown as Config)
        : loadConfig({
            envFile: envFile?.path,
            envFileFlag: envFile?.flag,
            overrides: spec.overrides?.(values),
            env: io.env,
            cwd: io.cwd,
          });
    registerPublicNames(config, values, positionals, io.cwd);
    if (config) showConfigWarnings(config, log, report);
    // Before the command reads or writes anything: DIRECT_URL and DATABASE_URL reach one database.
    if (config)
      await (await import('./directUrl.ts')).checkDirectUrl(config, log, report, spec.name, {
        unreachable: spec.directUrlUnreachable,
      });
    const json = values.json === true;
    const out = (text: string) => {
      // Kept in the log file too: stdout may be a pipe whose reader has gone.
      log.debug(`output: ${text}`);
      if (io.out) io.out(redact(text));
      else writeOutput(json ? (io.stream ?? process.stderr) : process.stdout, `${redact(text)}\n`);
    };
    return await spec.run({ values, positionals, log, report, config, json, signal: controller.signal, out });
  } catch (thrown: unknown) {
    if (inv.stoppedEarly()) return EXIT.interrupted;
    const error: unknown = controller.signal.aborted && !isUpkitError(thrown) ? controller.signal.reason : thrown;
    renderError(log, error);
    recordError(report, error);
    // A wrong command line is answered with the command's usage, as a person expects.
    if (isUpkitError(error) && error.code === 'usage') writeOutput(io.stream ?? process.stderr, `\n${usage(spec)}\n`);
    return exitCodeFor(error);
  }
}

function finishInvocation(inv: Invocation, exitCode: number): Report {
  const { log, report } = inv;
  if (inv.controller.signal.aborted && exitCode !== EXIT.ok) exitCode = EXIT.interrupted;
  const built = report.build(exitCode, log.steps, log.logFile);
  log.debug(`report: ${JSON.stringify(built)}`);
  return built;
}

function closeInvocation(inv: Invocation, built: Report, args: readonly string[]): void {
  const { log } = inv;
  if (log.logFile && !args.includes('--help') && !args.includes('-h'))
    log.info(`log: ${log.logFile} (${formatDuration(built.durationMs)})`);
  log.close();
}

/**
 * Runs a command inside this process, as the library and the targets runner do: the same
 * parsing, configuration, report and exit code as the command line, from `io.env` and
 * `io.cwd`, with no signal handlers installed, nothing written to stdout unless asked, and
 * never `process.exit`. Stopping is by `io.signal`.
 */
export async function executeCommand(spec: CommandSpec, args: string[], io: CommandIO = {}): Promise<CommandResult> {
  const inv = startInvocation(spec, args, io);
  let exitCode: number;
  try {
    exitCode = await invoke(spec, args, inv);
  } finally {
    inv.release();
  }
  const report = finishInvocation(inv, exitCode);
  closeInvocation(inv, report, args);
  return { exitCode: report.exitCode, report };
}

export async function runCommand(spec: CommandSpec, entryUrl: string, argv?: string[]): Promise<number> {
  const args = argv ?? argsAfter(entryUrl);
  // Nothing but --help: the usage text, with no log file, configuration or report to make.
  const help = helpOnly(spec, args);
  if (help !== undefined) {
    writeOutput(process.stdout, `${help}\n`);
    return EXIT.ok;
  }
  if ('target' in spec.options && wantsTargets(args)) return runOverTargets(spec, args);
  const wantsJson = args.includes('--json');
  let stoppedEarly = false;
  const inv = { ...startInvocation(spec, args, {}), stoppedEarly: () => stoppedEarly };
  const { log, report, controller } = inv;
  // A closed stdout or stderr (a pipe into `head`, a terminal that hung up) is noted once and
  // the run goes on: the log file and the runs ledger still tell what happened.
  for (const stream of [process.stdout, process.stderr]) {
    watchOutput(stream, (code) => {
      const hint = log.logFile ? `read it with: cat ${shellQuote(log.logFile)}` : undefined;
      const message =
        `${streamName(stream)} was closed (${code}); the run went on` +
        `${log.logFile ? ' and the log file has all of its output' : ''}`;
      log.warn(message);
      if (hint) log.info(`  → ${hint}`);
      report.finding('warning', 'output.closed', message, hint);
    });
  }
  process.once('exit', endChildren);

  let interruptedBy: string | undefined;
  let forceExit: (() => void) | undefined;
  let forcedStop = false;
  const forced = new Promise<number>((resolve) => (forceExit = () => resolve(EXIT.interrupted)));
  const onSignal = (sig: NodeJS.Signals) => {
    if (interruptedBy) {
      if (exitHeld()) return log.warn(`${sig} again: upkit stops as soon as it has put back what it changed`);
      log.warn(`${sig} again: stopping now`);
      forcedStop = true;
      forceExit?.();
      return;
    }
    interruptedBy = sig;
    log.warn(`${sig} received: stopping${spec.readOnly ? '' : ' after rolling back what is in progress'}`);
    const reason = new UpkitError({
      code: 'interrupted',
      exit: 'interrupted',
      message: spec.readOnly
        ? `interrupted by ${sig}; ${spec.name} only reads, so nothing was changed`
        : `interrupted by ${sig}`,
      hint: spec.readOnly ? `run: ${spec.invocation} again when ready` : undefined,
    });
    controller.abort(reason);
    if (spec.readOnly && !exitHeld()) {
      // Nothing to clean up (a shadow database being built holds the exit until it is dropped): say so now, since the
      // process ends without waiting for the work.
      stoppedEarly = true;
      renderError(log, reason);
      recordError(report, reason);
      forceExit?.();
    }
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);

  let exitCode: number;
  try {
    exitCode = await Promise.race([invoke(spec, args, inv), forced]);
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }
  const built = finishInvocation(inv, exitCode);
  if (wantsJson) {
    writeOutput(process.stdout, `${JSON.stringify(built, null, 2)}\n`);
    // A reader that has gone shows as an error event just after the write: let it land while
    // the log file is still open, so that the file says the report was not delivered.
    await new Promise((resolve) => setImmediate(resolve));
  }
  closeInvocation(inv, built, args);
  // A stopped read-only command (or a second Ctrl-C) may leave a connection attempt pending;
  // nothing it holds needs cleaning up, so the process ends now instead of when that times out.
  if (built.exitCode === EXIT.interrupted && (spec.readOnly || forcedStop)) process.exit(built.exitCode);
  return built.exitCode;
}

/** The command as the targets runner calls it: in process, once per target. */
function targetCommand(spec: CommandSpec): TargetCommand {
  return {
    name: spec.name,
    invocation: spec.invocation,
    usage: () => usage(spec),
    parse: (args) => parseCommandLine(spec, args),
    execute: (args, io) => executeCommand(spec, args, io),
    renderError,
    recordError,
  };
}

/**
 * `--target NAME` / `--all`: the command once per database of the targets file, in this
 * process (lib/targets/run.ts). A signal stops every target as it would stop one: rolled
 * back, locks released, 130; a second one ends the process unless cleanup holds it.
 */
async function runOverTargets(spec: CommandSpec, args: string[]): Promise<number> {
  const controller = new AbortController();
  let interruptedBy: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interruptedBy) {
      if (exitHeld())
        return writeOutput(process.stderr, `⚠ ${sig} again: upkit stops as soon as it has put back what it changed\n`);
      writeOutput(process.stderr, `⚠ ${sig} again: stopping now\n`);
      process.exit(EXIT.interrupted);
    }
    interruptedBy = sig;
    writeOutput(
      process.stderr,
      `⚠ ${sig} received: stopping every target` +
        `${spec.readOnly ? '' : ' after rolling back what is in progress'}; no other target starts\n`,
    );
    controller.abort(
      new UpkitError({
        code: 'interrupted',
        exit: 'interrupted',
        message: `interrupted by ${sig}`,
        hint: `run: ${spec.invocation} again when ready`,
      }),
    );
  };
  process.once('exit', endChildren);
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  try {
    const { runTargets } = await import('./targets/run.ts');
    const { exitCode, report } = await runTargets(targetCommand(spec), args, {
      env: process.env,
      cwd: process.cwd(),
      stream: process.stderr,
      stdout: process.stdout,
      signal: controller.signal,
    });
    if (args.includes('--json')) {
      writeOutput(process.stdout, `${JSON.stringify(report, null, 2)}\n`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return exitCode;
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }
}

export { showConfigWarnings };
