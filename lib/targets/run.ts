// A command run over the databases of the targets file (--target NAME, --all): each target
// through executeCommand in this process, with its own environment, log file and prefixed
// output, at most --concurrency at once, in `after` order; then one table and one report.
import path from 'node:path';
import { Writable } from 'node:stream';
import { EXIT, exitCodeFor, isUpkitError, usageError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { writeOutput } from '../output.ts';
import { canAsk, confirm } from '../prompt.ts';
import { givenEnvFile, PROJECT_ROOT } from '../config.ts';
import { shellQuote } from '../quote.ts';
import { redact, registerPublic, registerSecret, registerUrlCredentials } from '../redact.ts';
import { ReportBuilder, type Report } from '../report.ts';
import { VERSION } from '../version.ts';
import { baseEnvironment, localize, targetEnvironment } from './env.ts';
import { readTargets, targetsFilePath, type Target } from './file.ts';
import { takeTargetFlags } from './flags.ts';
import { buildTargetsReport, renderTable, worstExit, type TargetResult, type TargetsReport } from './report.ts';
import { schedule, type Outcome } from './schedule.ts';

export const DEFAULT_CONCURRENCY = 4;

/** Flags whose value belongs to one database: per target, they come from the targets file. */
const PER_TARGET_FLAGS: Record<string, string> = {
  'backup-dir': 'backupDir',
  'drizzle-dir': 'profile: {"drizzleDir": …}',
  'legacy-dir': 'profile',
};

/** The in-process command each target runs (lib/cli.ts builds it from a CommandSpec). */
export interface TargetCommand {
  name: string;
  invocation: string;
  usage(): string;
  /** Strict parsing of the command line, as the command itself does it; throws a usage error. */
  parse(args: string[]): { values: Record<string, string | boolean | undefined>; help: boolean };
  /** lib/cli.ts executeCommand: the command in this process, from the given env and cwd. */
  execute(args: string[], io: TargetRunIO): Promise<CommandResult>;
  /** Prints an error as the command would (✖ line, details, hint). */
  renderError(log: Logger, err: unknown): void;
  /** Records an error as the report's finding. */
  recordError(report: ReportBuilder, err: unknown): void;
}

export interface TargetRunIO {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stream: NodeJS.WriteStream;
  out: (text: string) => void;
  logDir: string | false;
  signal: AbortSignal;
  interactive: boolean;
}

export interface CommandResult {
  exitCode: number;
  report: Report;
}

export interface TargetsIO {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Progress, each line prefixed with its target's name. */
  stream: NodeJS.WritableStream;
  /** The command's result for a person (the table): stdout, unless --json owns it. */
  stdout: NodeJS.WritableStream;
  signal: AbortSignal;
  logDir?: string | false;
  /** Asks once, on a terminal, before plans are applied; default: stdin when it is a terminal. */
  confirm?: (question: string, signal: AbortSignal) => Promise<boolean>;
}

export interface TargetsOutcome {
  exitCode: number;
  /** The combined document, or (a usage error before any target ran) the command's own report. */
  report: TargetsReport | Report;
}

/** A stream that writes each line to `out` with the target's name in front. */
function prefixedStream(
  out: NodeJS.WritableStream,
  label: string,
  translate: (line: string) => string,
): NodeJS.WriteStream {
  let partial = '';
  const w = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      if (lines.length) writeOutput(out, lines.map((l) => `${label}${translate(l)}\n`).join(''));
      done();
    },
    final(done) {
      if (partial) writeOutput(out, `${label}${translate(partial)}\n`);
      done();
    },
  });
  return Object.assign(w, { isTTY: false }) as unknown as NodeJS.WriteStream;
}

/** The one question for every target; false when it is not answered yes or the run stops while it waits. */
async function askOnTerminal(question: string, signal: AbortSignal): Promise<boolean> {
  return confirm(question, { signal }).then(
    (r) => r.confirmed,
    () => false,
  );
}

function failedReport(spec: TargetCommand, err: unknown, log: Logger): { exitCode: number; report: Report } {
  const b = new ReportBuilder(spec.name, VERSION);
  spec.renderError(log, err);
  spec.recordError(b, err);
  const exitCode = exitCodeFor(err);
  return { exitCode, report: b.build(exitCode, [], log.logFile) };
}

interface Prepared {
  target: Target;
  env?: NodeJS.ProcessEnv;
  /** A configuration problem of this target alone. */
  error?: unknown;
}

/** Everything that can be refused before any target runs: flags, the targets file, the names. */
function prepare(spec: TargetCommand, args: readonly string[], io: TargetsIO) {
  const flags = takeTargetFlags(args, spec.invocation);
  const parsed = spec.parse(flags.rest);
  for (const [flag, key] of Object.entries(PER_TARGET_FLAGS)) {
    if (parsed.values[flag] !== undefined) {
      const others = args.filter((a) => !a.startsWith(`--${flag}`) && a !== parsed.values[flag]);
      throw usageError(
        `--${flag} does not go with --target or --all: each target sets its own (${key} in the targets file)`,
        `run: ${[spec.invocation, ...others.map(shellQuote)].join(' ')}`,
      );
    }
  }
  const where = targetsFilePath(flags.targetsFile, io.env, io.cwd);
  const file = readTargets(where.file, where.via);
  registerPublic(file.file);
  const known = file.targets.map((t) => t.name);
  const unknown = flags.names.filter((n) => !known.includes(n));
  if (unknown.length) {
    throw usageError(
      `no target named ${unknown.map((n) => `"${n}"`).join(', ')} in ${file.file} (targets: ${known.join(', ')})`,
      `run: ${spec.invocation} --target ${shellQuote(known[0]!)} (or --all)`,
    );
  }
  const selected = flags.all ? file.targets : file.targets.filter((t) => flags.names.includes(t.name));
  const base = baseEnvironment(io.env, io.cwd, givenEnvFile(parsed.values, spec.invocation)?.path);
  const prepared: Prepared[] = selected.map((target) => {
    registerPublic(target.name);
    try {
      const env = targetEnvironment(target, base, io.cwd);
      // Known as secrets before any target runs: one target's messages never show another's password.
      registerSecret(env.DB_PASSWORD);
      registerUrlCredentials(env.DATABASE_URL);
      registerUrlCredentials(env.DIRECT_URL);
      for (const k of ['DATABASE_URL', 'DIRECT_URL'] as const)
        registerSecret(env[k] && /^[^:]+:\/\/[^:/?#@\s]*:(.*)@[^@]*$/.exec(env[k]!.trim())?.[1]);
      return { target, env };
    } catch (err) {
      return { target, error: err };
    }
  });
  return { flags, parsed, file, prepared };
}

export async function runTargets(spec: TargetCommand, args: string[], io: TargetsIO): Promise<TargetsOutcome> {
  const started = performance.now();
  const json = args.includes('--json');
  const log = createLogger({
    command: `${spec.name}-targets`,
    stream: io.stream as NodeJS.WriteStream,
    logDir: io.logDir,
    interactive: false,
  });
  const logBase =
    io.logDir === false ? false : path.resolve(io.logDir ?? io.env.UPKIT_LOG_DIR ?? path.join(PROJECT_ROOT, 'logs'));
  let prep: ReturnType<typeof prepare>;
  try {
    prep = prepare(spec, args, io);
  } catch (err) {
    const failed = failedReport(spec, err, log);
    if (isUpkitError(err) && err.code === 'usage') writeOutput(io.stream, `\n${spec.usage()}\n`);
    log.close();
    return failed;
  }
  const { flags, parsed, file, prepared } = prep;
  if (parsed.help) {
    writeOutput(io.stdout, `${spec.usage()}\n`);
    log.close();
    return { exitCode: EXIT.ok, report: new ReportBuilder(spec.name, VERSION).build(EXIT.ok, [], undefined) };
  }
  if (log.configProblem) {
    const failed = failedReport(spec, log.configProblem, log);
    log.close();
    return failed;
  }
  const concurrency = Math.min(flags.concurrency ?? DEFAULT_CONCURRENCY, prepared.length);
  // Hints name the targets file again when it is not the one found by default.
  const targetsFlag = flags.targetsFile !== undefined ? ` --targets ${shellQuote(file.file)}` : '';
  const width = Math.max(...prepared.map((p) => p.target.name.length));
  const outputs = new Map<string, string[]>();
  log.info(
    `${spec.name}: ${prepared.length} target${prepared.length === 1 ? '' : 's'} from ` +
      `${file.file}, ${concurrency} at a time${flags.failFast ? ', --fail-fast' : ''}`,
  );

  const runOne = async (p: Prepared, extra: string[]): Promise<{ exitCode: number; result: CommandResult }> => {
    const translate = (text: string) => localize(text, p.target, targetsFlag);
    const stream = prefixedStream(io.stream, `${p.target.name.padEnd(width)} │ `, translate);
    const targetLog = createLogger({ command: spec.name, stream, logDir: false, interactive: false });
    try {
      if (p.error !== undefined) {
        const failed = failedReport(spec, p.error, targetLog);
        return { exitCode: failed.exitCode, result: localizeReport(failed, translate) };
      }
      const captured: string[] = outputs.get(p.target.name) ?? [];
      outputs.set(p.target.name, captured);
      const result = await spec.execute([...flags.rest, ...extra], {
        env: p.env!,
        cwd: io.cwd,
        stream,
        out: (text) => captured.push(translate(text)),
        logDir: logBase,
        signal: io.signal,
        interactive: false,
      });
      return { exitCode: result.exitCode, result: localizeReport(result, translate) };
    } catch (err) {
      const failed = failedReport(spec, err, targetLog);
      return { exitCode: failed.exitCode, result: localizeReport(failed, translate) };
    } finally {
      targetLog.close();
      stream.end();
    }
  };

  const byName = new Map(prepared.map((p) => [p.target.name, p]));
  const options = { concurrency, failFast: flags.failFast, signal: io.signal };
  const upgrade = spec.name === 'upgrade' && parsed.values['dry-run'] !== true;
  const ask = io.confirm ?? (canAsk() ? askOnTerminal : undefined);
  const all = prepared.map((p) => p.target);
  let decided = new Map<string, Outcome<CommandResult>>();
  let declined: TargetResult[] | undefined;

  if (upgrade && parsed.values.yes !== true && ask) {
    // On a terminal: every plan first (read-only, all targets), then one question for all of them.
    log.info("reading every target's plan first (read-only); nothing is changed before you answer");
    const plans = await schedule(all, { ...options, failFast: false }, (t) =>
      runOne(byName.get(t.name)!, ['--dry-run']),
    );
    const planResults = plans.map(resultOf);
    writeOutput(io.stream, `\nplans:\n${renderTable(planResults)}\n\n`);
    const ready = planResults.filter((r) => r.exitCode === 0).map((r) => r.name);
    // A plan that failed is that target's result; the targets after it are skipped.
    decided = new Map(plans.filter((o) => !o.ran || o.exitCode !== 0).map((o) => [o.name, o]));
    const yes =
      ready.length > 0 &&
      !io.signal.aborted &&
      (await ask(
        `Apply these plans to ${ready.length} database${ready.length === 1 ? '' : 's'} (` +
          `${ready.join(', ')}; each is backed up first unless --no-backup)? Type yes to go on: `,
        io.signal,
      ));
    const stopped = io.signal.aborted;
    const why = stopped
      ? {
          result: 'interrupted' as const,
          exitCode: EXIT.interrupted,
          reason: 'interrupted before the plans were confirmed; nothing was changed',
        }
      : {
          result: 'refused' as const,
          exitCode: EXIT.refused,
          reason: 'the plans were not confirmed; nothing was changed',
        };
    if (!yes) declined = planResults.map((r) => (r.exitCode === 0 ? { ...r, ...why } : r));
    outputs.clear();
  }
  const extra = upgrade && parsed.values.yes !== true ? ['--yes'] : [];
  const results =
    declined ?? (await schedule(all, options, (t) => runOne(byName.get(t.name)!, extra), decided)).map(resultOf);

  // Each target's own result text (verify's report, status's listing), in the file's order.
  const resultText: string[] = [];
  for (const r of results) {
    const text = outputs.get(r.name);
    if (text?.length) resultText.push(`── ${r.name} ──`, ...text, '');
  }
  const table = renderTable(results);
  writeOutput(
    json ? io.stream : io.stdout,
    redact(`${resultText.length ? `\n${resultText.join('\n')}` : ''}\n${table}\n\n`),
  );
  log.debug(`table:\n${table}`);
  if (declined?.some((r) => r.result === 'refused' && r.reason !== null)) {
    log.error('stopped before any change: the plans were not confirmed; nothing was changed');
    log.info(`  → run: ${[spec.invocation, ...args.map(shellQuote)].join(' ')} again and type yes (or add --yes)`);
  } else if (declined?.some((r) => r.result === 'interrupted' && r.reason !== null)) {
    log.error('interrupted before the plans were confirmed; nothing was changed');
    log.info(`  → run: ${[spec.invocation, ...args.map(shellQuote)].join(' ')} again when ready`);
  }
  for (const r of results) {
    if (r.exitCode === null || r.exitCode === EXIT.ok || r.reason !== null) continue;
    const f = r.report?.findings.find((x) => x.severity === 'error');
    log.error(`${r.name}: ${f?.message ?? r.report?.summary ?? `exit ${r.exitCode}`}`);
    if (f?.hint) log.info(`  → ${f.hint}`);
    else if (r.report?.logFile) log.info(`  → the log file has the details: ${shellQuote(r.report.logFile)}`);
  }
  let exitCode = worstExit(results.flatMap((r) => (r.exitCode === null ? [] : [r.exitCode])));
  if (io.signal.aborted && exitCode === EXIT.ok) exitCode = EXIT.interrupted;
  const report = buildTargetsReport({
    version: VERSION,
    command: spec.name,
    targetsFile: file.file,
    results,
    exitCode,
    durationMs: performance.now() - started,
    logFile: log.logFile,
  });
  (exitCode === EXIT.ok ? log.info : log.warn)(
    `${exitCode === EXIT.ok ? '✔ ' : ''}${report.summary}; exit ${exitCode}`,
  );
  log.debug(`report: ${JSON.stringify(report)}`);
  if (log.logFile) log.info(`log: ${log.logFile}`);
  log.close();
  return { exitCode, report };
}

function localizeReport(result: CommandResult, translate: (text: string) => string): CommandResult {
  for (const f of result.report.findings) {
    f.message = translate(f.message);
    if (f.hint !== null) f.hint = translate(f.hint);
  }
  return result;
}

function resultOf(o: Outcome<CommandResult>): TargetResult {
  if (!o.ran)
    return {
      name: o.name,
      result: 'skipped',
      exitCode: null,
      reason: o.reason,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      report: null,
    };
  return {
    name: o.name,
    result: o.result.report.status,
    exitCode: o.exitCode,
    reason: null,
    startedAt: o.startedAt.toISOString(),
    finishedAt: o.finishedAt.toISOString(),
    durationMs: o.finishedAt.getTime() - o.startedAt.getTime(),
    report: o.result.report,
  };
}
