// The upgrade flow (DESIGN.md): config → preflight → plan → (dry-run stops) → lock →
// backup → legacy → drizzle → seed → verify → containers → health → report. Everything
// before the backup only reads; after it, any stop says where the database stands and
// how to go back.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Client } from 'pg';
import { loadVerifyFiles, verifyDatabase } from '../verify/engine.ts';
import { snapshotPath } from './drizzle/journal.ts';
import { expectedSchemaFor, type ShadowOptions } from '../verify/shadow.ts';
import { apply, describeStep } from './apply/index.ts';
import type { ApplyContext } from './apply/context.ts';
import {
  type Blocker,
  configureSession,
  describeBlocker,
  exclusiveHolders,
  lockRetryWaits,
  type SessionSettings,
} from './apply/session.ts';
import { checkInterruptedRestore } from './backup/leftovers.ts';
import { takeBackup, type BackupResult } from './backup/run.ts';
import type { Config } from './config.ts';
import { isOtherApp } from './config.ts';
import { displayPath, filesToRun, loadContent, parseFiles, type Content } from './content.ts';
import { connect, withAdvisoryLock, withTransaction, type LockWait } from './db.ts';
import { EXIT, isUpkitError, UpkitError } from './errors.ts';
import { formatPgError, isPgError } from './pgError.ts';
import { inspect } from './inspect.ts';
import { assertReadyToWrite, ledgerAccessError, readServerFacts, serverVersionError } from './preflight.ts';
import { plural } from './plural.ts';
import { shellQuote } from './quote.ts';
import { applicationRowCounts, flushWriteStats, writeActivity } from './backup/writes.ts';
import { ensureLedger, finishRun, markCrashedRuns, setRunBackup, startRun } from './ledger.ts';
import { formatDuration, type Logger } from './log.ts';
import { isEmptyPlan, plan as makePlan, type Plan } from './plan.ts';
import { withChecks } from './checks/index.ts';
import { outcomeFor, ReportBuilder } from './report.ts';
import { assertMayRehearse, leftoverRehearsals, recordRehearsal, withRehearsal } from './rehearse.ts';
import { rebuildContainers } from './compose.ts';
import { checkHealth, healthFindings, HealthError } from './health/index.ts';
import type { Profile } from './profileTypes.ts';

export interface UpgradeOptions {
  /** What the migrations belong to (the commands choose it: profiles/). */
  profile: Profile;
  dryRun: boolean;
  /** `--allow-destructive` (true) or `--allow-destructive=TAG,…`: the destructive statements the operator accepts. */
  allowDestructive: boolean | readonly string[];
  upkitVersion: string;
  command: 'upgrade' | 'install';
  signal?: AbortSignal;
  /** Rebuild the containers and wait for health after a clean verification (unless --no-containers). */
  containers?: boolean;
  /** Run the whole plan on a copy restored from the backup first, and verify it there. */
  rehearse?: boolean;
  /** A fresh install: an empty database has nothing to back up. */
  skipBackupWhenEmpty?: boolean;
  /** `--no-backup`: the operator's own snapshot replaces upkit's backup; none is taken. */
  noBackup?: boolean;
  /** Before anything is written: confirm with the operator (false to stop). */
  confirm?(plan: Plan): Promise<boolean>;
  /** `--wait-for-lock SECONDS`: wait for a run that holds the lock (then plan anew) instead of exiting 5. */
  waitForLockSeconds?: number;
}

/** What the plan, the report and the runs ledger say when the operator chose `--no-backup`. */
export const NO_BACKUP_REASON = "--no-backup: the operator's own snapshot replaces upkit's backup";

export function sessionSettings(config: Config): SessionSettings {
  return {
    lockTimeoutMs: config.lockTimeoutMs,
    statementTimeoutMs: config.migrationTimeoutMs,
    retryWaitsMs: lockRetryWaits(config.lockRetries),
  };
}

export function printPlan(plan: Plan, log: Logger): void {
  log.info(
    `plan: ${plan.database} ${plan.from ?? 'empty'} → ` +
      `${plan.to ?? 'empty'}${isEmptyPlan(plan) ? ': nothing to do' : ''}`,
  );
  if (plan.from !== plan.to || plan.detection.ahead.length)
    for (const e of plan.detection.evidence) log.debug(`  detected ${e}`);
  for (const [i, s] of plan.steps.entries()) log.info(`  ${i + 1}. ${describeStep(s)}`);
  for (const f of plan.lint)
    log.info(
      `  lint ${f.file}:${f.line} ${f.message} (` +
        `${
          f.safe
            ? `reviewed: ${f.safe}`
            : f.acceptedBy
              ? `accepted: ` +
                `${
                  f.acceptedBy === '--allow-destructive=TAG'
                    ? `--allow-destructive=` + `${f.file.replace(/\.sql$/, '')}`
                    : f.acceptedBy
                }`
              : 'destructive'
        })`,
    );
  for (const w of plan.warnings) {
    log.warn(w.message);
    if (w.hint) log.info(`  → ${w.hint}`);
  }
  if (plan.backup === 'operator')
    log.warn(`no backup: upkit takes none (${NO_BACKUP_REASON}); take that snapshot now if you have not`);
}

async function planFor(
  client: Pick<Client, 'query'>,
  config: Config,
  content: Content,
  upgrade: Pick<UpgradeOptions, 'allowDestructive' | 'noBackup' | 'skipBackupWhenEmpty'>,
): Promise<Plan> {
  const inspection = await inspect(client, config, content);
  const options = {
    allowDestructive: upgrade.allowDestructive,
    latestRelease: content.profile.latestRelease,
    now: Date.now(),
    noBackup: upgrade.noBackup === true,
    skipBackupWhenEmpty: upgrade.skipBackupWhenEmpty === true,
  };
  // The steps do not depend on the statements; what they will run is parsed (and linted) next.
  const first = makePlan(inspection, content, options);
  const needed = filesToRun(first.steps);
  if (needed.length === 0) return first;
  await parseFiles(content, needed);
  return makePlan(inspection, content, options);
}

/** `backup 3.1 s, legacy 0.4 s, drizzle 1.2 s, seed 8 ms, verify 40 ms` from the steps run. */
export function phaseSummary(log: Logger): string {
  const totals = new Map<string, number>();
  for (const s of log.steps) {
    const phase = s.name.startsWith('pg_dump') || s.name === 'verify backup' ? 'backup' : s.name.split(/[: ]/)[0]!;
    totals.set(phase, (totals.get(phase) ?? 0) + s.durationMs);
  }
  return [...totals].map(([k, v]) => `${k} ${formatDuration(v)}`).join(', ');
}

/** A warning as the report has it and as a person reads it: the same line, then the hint. */
function warning(report: ReportBuilder, log: Logger, code: string, message: string, hint: string): void {
  report.finding('warning', code, message, hint);
  log.warn(message);
  log.info(`  → ${hint}`);
}

/** The plan's warnings (out-of-order entries, a journal `when` in the future, …) become findings too. */
function planWarnings(plan: Plan, report: ReportBuilder): void {
  for (const w of plan.warnings) report.finding('warning', w.code, w.message, w.hint);
}

/**
 * Refuses a server upkit does not support, then makes the plan in a read-only transaction and
 * shows it (screen and report, warnings as findings); a plan with refusals throws the first.
 * The same for a dry run and for the run that applies it.
 */
async function showPlan(
  client: Client,
  config: Config,
  content: Content,
  options: UpgradeOptions,
  report: ReportBuilder,
  log: Logger,
): Promise<Plan> {
  const facts = await readServerFacts(client);
  // Reading is all the plan needs; what writing needs is checked before the first write.
  const tooOld = serverVersionError(facts) ?? ledgerAccessError(facts, 'read');
  if (tooOld) throw tooOld;
  // The plan's reads (row probes, duplicate and orphan counts) run under upkit's statement
  // timeout, not one the role or database happens to set; lock waits keep the role's.
  await client.query(
    `select set_config('statement_timeout', $1, false), set_config('idle_in_transaction_session_timeout', '0', false)`,
    [`${config.migrationTimeoutMs}ms`],
  );
  const plan = await withTransaction(
    client,
    async () => withChecks(client, await planFor(client, config, content, options), content),
    { readOnly: true },
  );
  report.plan = plan;
  report.release = { from: plan.from, to: plan.to };
  printPlan(plan, log);
  planWarnings(plan, report);
  if (plan.refusals.length) throw refuse(plan);
  return plan;
}

function refuse(plan: Plan): UpkitError {
  const [first, ...rest] = plan.refusals;
  return new UpkitError({
    code: first!.code,
    exit: first!.usage ? 'usage' : 'refused',
    message: first!.message,
    hint: first!.hint,
    details: rest.map((r) => `${r.message} → ${r.hint}`),
  });
}

export interface AfterVerification {
  errors: number;
  warnings: number;
  /** The areas that were checked: `seed data` only where the profile has seed data. */
  checked: readonly string[];
}

/** Runs verification on the live database and records its findings. */
export async function verifyAfter(
  client: Client,
  config: Config,
  content: Content,
  report: ReportBuilder,
  shadow?: Pick<ShadowOptions, 'signal' | 'log'>,
): Promise<AfterVerification> {
  // An app's expected schema is what its migrations build: replayed (and cached) with the migration
  // role. A profile with a legacy era (Pulse) keeps its snapshots: a legacy install never ran
  // drizzle's first entry, and upkit's own tests hold those snapshots to the migrations.
  const expected = content.profile.legacy
    ? undefined
    : await expectedSchemaFor(config, loadVerifyFiles({ drizzleDir: content.drizzleDir, snapshotOptional: true }), {
        build: true,
        ...shadow,
      });
  const result = await withTransaction(
    client,
    () =>
      verifyDatabase(client, {
        drizzleDir: content.drizzleDir,
        legacyDir: content.legacy ? content.legacy.dir : undefined,
        profile: content.profile,
        expected,
      }),
    { readOnly: true },
  );
  for (const f of result.findings) report.finding(f.severity, f.code, f.message, f.hint ?? undefined);
  const count = (severity: string) => result.findings.filter((f) => f.severity === severity).length;
  return { errors: count('error'), warnings: count('warning'), checked: Object.keys(result.timings) };
}

/** The verify phase's line: what was checked, and what it found; never an area that was not checked. */
export function verifiedDetail(v: AfterVerification): string {
  const areas =
    v.checked.length > 1 ? `${v.checked.slice(0, -1).join(', ')} and ${v.checked.at(-1)}` : (v.checked[0] ?? 'nothing');
  if (!v.errors && !v.warnings) return `${areas} as expected`;
  const found = [v.errors && plural(v.errors, 'error'), v.warnings && plural(v.warnings, 'warning')]
    .filter(Boolean)
    .join(', ');
  return `${found} in ${areas}`;
}

/** What the verification stop depends on: the errors, what the run applied, and the ways back. */
export interface VerificationStopFacts {
  errors: number;
  /** How many steps the run applied. */
  applied: number;
  /** The release the database stands at (the plan's target). */
  to: string | null;
  /** The app's drizzle folder, named in the command when it is not Pulse's own. */
  otherAppFolder?: string | undefined;
  backupPath?: string | undefined;
  noBackup: boolean;
}

/**
 * The last line of an upgrade whose verification found errors (exit 4): how many, what the
 * run had applied before (the report's outcome says the same), where the database stands, and
 * the commands that show them again (with this app's folder) and go back.
 */
export function describeVerificationStop(v: VerificationStopFacts): { message: string; hint: string } {
  const after = v.applied
    ? `after the upgrade applied ${plural(v.applied, 'step')}; the database stands at ${v.to ?? 'empty'}`
    : 'and the plan had nothing to apply, so nothing was changed';
  const message = `verification found ${plural(v.errors, 'problem')} (listed above) ${after}`;
  const folder = v.otherAppFolder === undefined ? '' : ` --drizzle-dir ${shellQuote(v.otherAppFolder)}`;
  const back = !v.applied
    ? ''
    : v.backupPath
      ? `; to go back: npx zx scripts/restore.ts ${shellQuote(v.backupPath)}`
      : v.noBackup
        ? '; upkit took no backup (--no-backup): to go back, restore your own snapshot'
        : '';
  return { message, hint: `see them again: npx zx verify/index.ts${folder}${back}` };
}

/** Reports describeVerificationStop()'s line: a finding, and the log. */
function verificationProblems(
  report: ReportBuilder,
  log: Logger,
  v: {
    errors: number;
    config: Config;
    plan: Plan;
    backup: BackupResult | undefined;
    noBackup: boolean;
  },
): void {
  const { message, hint } = describeVerificationStop({
    errors: v.errors,
    applied: report.applied.length,
    to: v.plan.to,
    otherAppFolder: isOtherApp(v.config.drizzleDir, process.cwd()) ? v.config.drizzleDir : undefined,
    backupPath: v.backup?.path,
    noBackup: v.noBackup,
  });
  report.verificationErrors = v.errors;
  report.finding('error', 'upgrade.verify_problems', message, hint);
  log.error(message);
  log.info(`  → ${hint}`);
}

/** The whole plan, and verification, on a scratch copy restored from the backup; dropped afterwards. */
async function rehearse(
  plan: Plan,
  backup: BackupResult,
  config: Config,
  content: Content,
  log: Logger,
  report: ReportBuilder,
  options: UpgradeOptions,
  runId: string,
  lockClient: Client,
): Promise<void> {
  const { durationMs, database, restoreMs } = await withRehearsal(
    config,
    log,
    backup,
    async (scratch) => {
      const scratchConfig: Config = { ...config, db: scratch, migrationDb: scratch };
      const client = await connect(scratch, config, { applicationName: `upkit ${options.command} rehearsal` });
      try {
        const ctx: ApplyContext = {
          client,
          config: scratchConfig,
          content,
          log,
          runId,
          settings: sessionSettings(config),
          signal: options.signal,
          applied: [],
          label: 'rehearsal: ',
          stands: { release: plan.from, lastStep: null, changed: false },
        };
        await configureSession(client, ctx.settings);
        await apply(plan, ctx);
        const scratchReport = new ReportBuilder('rehearsal', options.upkitVersion);
        const { errors } = await verifyAfter(client, scratchConfig, content, scratchReport, {
          signal: options.signal,
          log,
        });
        if (errors) {
          throw new UpkitError({
            code: 'rehearse.verify',
            exit: 'refused',
            message:
              `the rehearsal's verification found ${plural(errors, 'problem')}` + `; the real database was not touched`,
            details: scratchReport.findings.filter((f) => f.severity === 'error').map((f) => `${f.code}: ${f.message}`),
            hint: 'fix what it names (npx zx verify/index.ts on a restored copy shows it), then run the upgrade again',
          });
        }
      } catch (err) {
        if (isUpkitError(err) && err.code.startsWith('rehearse.')) throw err;
        throw new UpkitError({
          code: 'rehearse.failed',
          exit: 'refused',
          message:
            `the rehearsal on a restored copy failed, ` +
            `so the real database was not touched: ${(err as Error).message}`,
          details: isUpkitError(err) ? err.details : [],
          hint: isUpkitError(err) && err.hint ? err.hint : 'see the log file',
          cause: err,
        });
      } finally {
        await client.end().catch(() => {});
      }
    },
    { signal: options.signal, record: (database, marker) => recordRehearsal(lockClient, runId, database, marker) },
  );
  report.finding(
    'info',
    'rehearse.ok',
    `rehearsed on ${database}: restored in ${formatDuration(restoreMs)}` +
      `, whole rehearsal ${formatDuration(durationMs)}; dropped`,
  );
  log.info(
    `rehearsal passed on a restored copy in ${formatDuration(durationMs)}` +
      ` (restore ${formatDuration(restoreMs)}); now the real database`,
  );
}

/** Containers (when COMPOSE_FILE is set), then health (endpoints and migration state). Exit 6 on failure. */
export async function containersAndHealth(
  config: Config,
  profile: Profile,
  log: Logger,
  report: ReportBuilder,
  expectedRelease: string | undefined,
  signal?: AbortSignal,
): Promise<number> {
  try {
    if (config.composeFile) {
      const result = await log.step('containers', async (s) => {
        const r = await rebuildContainers(config, log, { signal });
        s.detail(r.detail);
        return r;
      });
      log.debug(`containers: ${JSON.stringify(result.services)}`);
    }
    if (config.healthcheckUrls.length || config.composeFile) {
      const health = await log.step('health', async (s) => {
        const r = await checkHealth(config, log, { profile, expectedRelease, signal });
        s.detail(`${plural(config.healthcheckUrls.length, 'endpoint')} healthy, database migrated`);
        return r;
      });
      for (const f of healthFindings(health)) report.findings.push(f);
    }
    return EXIT.ok;
  } catch (err) {
    if (err instanceof HealthError) for (const f of healthFindings(err.result)) report.findings.push(f);
    if (isUpkitError(err) && err.exit === 'health') {
      report.finding('error', err.code, err.message, err.hint);
      log.error(err.message);
      for (const d of err.details) log.info(`    ${d}`);
      if (err.hint) log.info(`  → ${err.hint}`);
      log.info('  the database upgrade itself is complete and verified; only the containers or their health failed');
      return EXIT.health;
    }
    throw err;
  }
}

export async function runUpgrade(
  config: Config,
  log: Logger,
  report: ReportBuilder,
  options: UpgradeOptions,
): Promise<number> {
  const content = loadContent(options.profile);
  log.debug(
    `content: ${content.migrations.length} drizzle entries in ${content.drizzleDir}` +
      `${content.legacy ? `, ${content.legacy.files.length} legacy files in ${content.legacy.dir}` : ''}`,
  );
  const target = config.migrationDb;
  await checkInterruptedRestore(config, log, report);
  if (options.dryRun) return dryRun(config, content, log, report, options);

  // A wait for the lock ends in a plan made after it: whatever the holder applied is read then.
  const { wait, tookLock } = lockWait(target.database, options, log, report);
  return withAdvisoryLock(
    target,
    config,
    options.command,
    async (lockClient) => {
      log.debug(`run lock taken on ${target.database}`);
      tookLock();
      return runLocked(config, content, log, report, options, lockClient);
    },
    wait,
  );
}

/** The plan, shown; nothing is written, no backup is taken. */
async function dryRun(
  config: Config,
  content: Content,
  log: Logger,
  report: ReportBuilder,
  options: UpgradeOptions,
): Promise<number> {
  // A dry run names leftover rehearsals; a run drops the ones proven upkit's under the run lock,
  // once its checks passed.
  await leftoverRehearsals(config, log, report, false);
  const client = await connect(config.migrationDb, config, { applicationName: `upkit ${options.command} --dry-run` });
  try {
    await showPlan(client, config, content, options, report, log);
    log.info('dry run: nothing was changed, no backup was taken');
    return EXIT.ok;
  } catch (err) {
    throw await unchanged(err, client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** What the run is doing, for the message when it stops. */
export type RunPhase =
  | 'the plan (reading the database)'
  | 'the backup'
  | 'the rehearsal on a restored copy'
  | 'the migrations'
  | 'verification'
  | 'the containers and health checks';

/** A run under the lock, as its steps leave it: what a stop reports. */
interface LockedRun {
  id: string;
  ctx: ApplyContext;
  lockClient: Client;
  phase: RunPhase;
  /** Whether upkit.runs holds a row for this run (to be finished). */
  started: boolean;
  backup: BackupResult | undefined;
  /** The operator chose --no-backup: a failure points to their own snapshot. */
  noBackup: boolean;
}

/**
 * The run that holds the lock: plan, checks, then (when there is something to do) record,
 * backup, apply; verify, containers.
 */
async function runLocked(
  config: Config,
  content: Content,
  log: Logger,
  report: ReportBuilder,
  options: UpgradeOptions,
  lockClient: Client,
): Promise<number> {
  const client = await connect(config.migrationDb, config, { applicationName: `upkit ${options.command} migrations` });
  const pidRow = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  const migrationPid = pidRow.rows[0]!.pid;
  // Ctrl-C: cancel whatever statement runs, from the lock's own connection.
  const onAbort = () => void lockClient.query('select pg_cancel_backend($1)', [migrationPid]).catch(() => {});
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const id = randomUUID();
  const run: LockedRun = {
    id,
    lockClient,
    ctx: {
      client,
      config,
      content,
      log,
      runId: id,
      settings: sessionSettings(config),
      signal: options.signal,
      applied: report.applied,
      stands: { release: null, lastStep: null, changed: false },
    },
    phase: 'the plan (reading the database)',
    started: false,
    backup: undefined,
    noBackup: false,
  };
  try {
    const plan = await showPlan(client, config, content, options, report, log);
    run.ctx.stands.release = plan.from;
    if (!(await readyToWrite(plan, run, options, report))) return EXIT.refused;
    // Under the run lock no rehearsal of this database can be running: a leftover one is a
    // stopped run's (and still proven upkit's and gone before it is dropped).
    await leftoverRehearsals(config, log, report, true);
    const t0 = performance.now();
    let after: RunRecord = {};
    if (!isEmptyPlan(plan)) {
      await recordRun(plan, run, options, report);
      await backupStep(plan, run, options, report);
      if (options.rehearse) await rehearseStep(plan, run, options, report);
      after = await applyStep(plan, run, report);
    }
    run.phase = 'verification';
    const errors = await verifyStep(run, options, report);
    log.info(
      `${plan.from ?? 'empty'} → ${plan.to ?? 'empty'} in ` +
        `${formatDuration(performance.now() - t0)}: ${phaseSummary(log)}`,
    );
    let exit: number = errors ? EXIT.verification : EXIT.ok;
    if (errors) verificationProblems(report, log, { errors, config, plan, backup: run.backup, noBackup: run.noBackup });
    else if (options.containers) {
      run.phase = 'the containers and health checks';
      exit = await containersAndHealth(config, content.profile, log, report, plan.to ?? undefined, options.signal);
    }
    // upkit.runs keeps its coarse status; the report it stores says which outcome it was.
    const outcome = outcomeFor(exit, report.changed || report.applied.length > 0);
    if (run.started)
      await finishRun(lockClient, id, {
        status: exit === EXIT.ok ? 'ok' : 'failed',
        report: { outcome, applied: report.applied, findings: report.findings, ...after },
      });
    return exit;
  } catch (err) {
    const facts: StopFacts = {
      phase: run.phase,
      current: run.ctx.current,
      lastStep: log.steps.at(-1)?.name,
      stands: run.ctx.stands,
      recorded: run.started,
      interrupted: options.signal?.aborted === true ? { reason: options.signal.reason } : false,
      backupPath: run.backup?.path,
      noBackup: run.noBackup,
    };
    // A lock timeout met while reading, before any change, names who held the locks.
    if (!facts.interrupted && !facts.stands.changed && isPgError(err) && err.code === '55P03')
      facts.lockHolders = await exclusiveHolders(client).catch(() => []);
    const stop = describeStop(err, facts);
    if (stop.status) await finishRun(lockClient, id, { status: stop.status }).catch(() => {});
    throw stop.error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
}

/**
 * What upkit.runs keeps of the run's last write: row counts and write statistics (rollback tells the application's
 * apart).
 */
interface RunRecord {
  rowsAfter?: Awaited<ReturnType<typeof applicationRowCounts>> | undefined;
  statsAfter?: Awaited<ReturnType<typeof writeActivity>> | undefined;
}

/**
 * The checks before anything is written, even the runs ledger (a refusal leaves no trace), and
 * the operator's confirmation; false when the plan was not confirmed. An empty plan marks the
 * runs an earlier, killed run left running.
 */
async function readyToWrite(
  plan: Plan,
  run: LockedRun,
  options: UpgradeOptions,
  report: ReportBuilder,
): Promise<boolean> {
  const { client, config, content, log } = run.ctx;
  if (!isEmptyPlan(plan)) {
    await assertReadyToWrite(client, config, { backup: plan.backup === 'upkit' });
    await assertExpectedSchema(config, content, options, log);
    if (options.rehearse) await assertMayRehearse(client, config);
    if (options.confirm && !(await options.confirm(plan))) {
      log.info('stopped before any change: the plan was not confirmed');
      return false;
    }
    return true;
  }
  log.info(`${plan.database} is at ${plan.to ?? 'its latest entry'}: nothing to apply, no backup needed`);
  // A run killed after its last change (during verification) left its row running.
  for (const r of await markCrashedRuns(run.lockClient)) {
    warning(
      report,
      log,
      'run.crashed',
      `an earlier run (${r.command}, started ${r.startedAt.toISOString()}` +
        ` on ${r.host}, pid ${r.pid}) died without finishing; marked crashed`,
      'its changes were complete; this run verifies them',
    );
  }
  return true;
}

/** The run's row in upkit.runs (the ledger made first); runs an earlier one left running are marked crashed. */
async function recordRun(plan: Plan, run: LockedRun, options: UpgradeOptions, report: ReportBuilder): Promise<void> {
  const { log } = run.ctx;
  await ensureLedger(run.lockClient);
  const crashed = await startRun(run.lockClient, {
    id: run.id,
    command: options.command,
    releaseFrom: plan.from,
    releaseTo: plan.to,
    toolVersion: options.upkitVersion,
    ...(plan.backup === 'operator' ? { backupSkipped: NO_BACKUP_REASON } : {}),
  });
  run.started = true;
  log.debug(`recorded in upkit.runs as run ${run.id}`);
  for (const r of crashed) {
    warning(
      report,
      log,
      'run.crashed',
      `an earlier run (${r.command}, started ${r.startedAt.toISOString()}` +
        ` on ${r.host}, pid ${r.pid}) died without finishing; marked crashed`,
      'this run picks up where it stopped',
    );
  }
}

/**
 * The backup the plan calls for: upkit's (recorded in the run's row), the operator's (--no-backup), or none (empty).
 */
async function backupStep(plan: Plan, run: LockedRun, options: UpgradeOptions, report: ReportBuilder): Promise<void> {
  const { config, content, log } = run.ctx;
  if (plan.backup === 'none') {
    log.info('the database is empty: nothing to back up');
    return;
  }
  if (plan.backup === 'operator') {
    run.noBackup = true;
    report.finding(
      'info',
      'backup.skipped',
      `no backup was taken (${NO_BACKUP_REASON})`,
      'if this run fails, restore the database from your own snapshot',
    );
    log.info(`no backup taken (${NO_BACKUP_REASON})`);
    return;
  }
  run.phase = 'the backup';
  const backup = await takeBackup(config, log, {
    profile: content.profile,
    backupDir: config.backupDir,
    keep: config.backupKeep,
    signal: options.signal,
    upkitVersion: options.upkitVersion,
    report,
  });
  run.backup = backup;
  report.backup = { path: backup.path, bytes: backup.manifest.bytes, sha256: backup.manifest.sha256 };
  await setRunBackup(run.lockClient, run.id, {
    path: backup.path,
    sha256: backup.manifest.sha256,
    systemIdentifier: backup.manifest.systemIdentifier,
    database: backup.manifest.database,
  });
}

/** `--rehearse`: the plan on a copy restored from the backup first; refused without a backup. */
async function rehearseStep(plan: Plan, run: LockedRun, options: UpgradeOptions, report: ReportBuilder): Promise<void> {
  const { config, content, log } = run.ctx;
  if (!run.backup)
    throw new UpkitError({
      code: 'rehearse.no_backup',
      exit: 'refused',
      message:
        `nothing to rehearse on: ` +
        `${run.noBackup ? 'with --no-backup no backup was taken' : 'the database is empty and no backup was taken'}`,
      hint: 'run without --rehearse',
    });
  run.phase = 'the rehearsal on a restored copy';
  await rehearse(plan, run.backup, config, content, log, report, options, run.id, run.lockClient);
}

/**
 * The plan's steps on the live database; then the row counts and write statistics as the run's
 * last write left them, before verify, the containers and the health checks: what the
 * application writes from here on is not the run's, and rollback tells it apart. The run's own
 * writes are flushed first.
 */
async function applyStep(plan: Plan, run: LockedRun, report: ReportBuilder): Promise<RunRecord> {
  const { ctx } = run;
  run.phase = 'the migrations';
  await configureSession(ctx.client, ctx.settings);
  await apply(plan, ctx).finally(() => {
    if (ctx.stands.changed) report.changed = true;
  });
  const rowsAfter = await applicationRowCounts(ctx.client).catch(() => undefined);
  const statsAfter = await flushWriteStats(ctx.client).then(
    () => writeActivity(ctx.client),
    () => undefined,
  );
  return { rowsAfter, statsAfter };
}

/** Verification of the live database, its findings on screen and in the report; the number of errors. */
async function verifyStep(run: LockedRun, options: UpgradeOptions, report: ReportBuilder): Promise<number> {
  const { client, config, content, log } = run.ctx;
  const already = report.findings.length;
  const { errors } = await log.step('verify', async (s) => {
    const v = await verifyAfter(client, config, content, report, { signal: options.signal, log });
    s.judge(report.findings.slice(already), verifiedDetail(v));
    return v;
  });
  for (const f of report.findings.slice(already).filter((x) => x.severity !== 'info')) {
    (f.severity === 'error' ? log.error : log.warn)(`${f.code}: ${f.message}`);
    if (f.hint) log.info(`  → ${f.hint}`);
  }
  return errors;
}

/** What a run that stopped knows of itself: the facts describeStop() turns into what the operator reads. */
export interface StopFacts {
  /** What the run was doing. */
  phase: RunPhase;
  /** The step of the plan in progress during the migrations (as the plan describes it). */
  current?: string | undefined;
  /** The last step the log timed: tells the containers from the health checks. */
  lastStep?: string | undefined;
  /** Where the database stands: `changed` once the first change is committed. */
  stands: ApplyContext['stands'];
  /** Whether upkit.runs holds a row for the run. */
  recorded: boolean;
  /** The signal's reason when the run was interrupted (Ctrl-C, a time limit); false otherwise. */
  interrupted: false | { reason: unknown };
  /** The backup the run took, if it took one. */
  backupPath?: string | undefined;
  /** `--no-backup`: the operator's own snapshot is the way back. */
  noBackup: boolean;
  /** The sessions that held locks when a read before any change met a lock timeout. */
  lockHolders?: readonly Blocker[];
}

/** A stop as the operator meets it: the error to report (message, hint, exit code), the status upkit.runs records. */
export interface Stop {
  /** What is thrown: an UpkitError for each stop upkit describes; an error it did not anticipate as it is (exit 1). */
  error: unknown;
  /** The run's status in upkit.runs; null when the run was never recorded there. */
  status: 'interrupted' | 'failed' | 'refused' | null;
}

/**
 * What an operator reads after a run stopped on an error: before any change, the error as it
 * is (a PostgreSQL error made a refusal that says nothing was changed); after an interruption,
 * what was in progress and what was rolled back; after changes began, where the database
 * stands and how to go back (the backup to restore, or the operator's own snapshot).
 */
export function describeStop(err: unknown, facts: StopFacts): Stop {
  const { interrupted, stands, phase } = facts;
  const status = !facts.recorded ? null : interrupted ? 'interrupted' : stands.changed ? 'failed' : 'refused';
  const by = interrupted && isUpkitError(interrupted.reason) ? interrupted.reason.message : 'interrupted';
  const during =
    phase === 'the migrations' && facts.current
      ? facts.current
      : phase === 'the containers and health checks'
        ? facts.lastStep === 'containers'
          ? 'the containers'
          : 'the health checks'
        : phase;
  const recorded = facts.recorded ? '; upkit.runs records the run as interrupted' : '';
  if (!stands.changed) {
    if (!interrupted) return { status, error: unchangedError(err, facts.lockHolders ?? []) };
    const what =
      phase === 'the backup'
        ? 'the partial backup file was removed and nothing was changed'
        : phase === 'the migrations'
          ? 'it was rolled back and nothing was changed'
          : 'nothing was changed';
    return {
      status,
      error: new UpkitError({
        code: 'interrupted',
        exit: 'interrupted',
        message: `${by} during ${during}; ${what}${recorded}`,
        hint:
          `run the upgrade again when ready` +
          `${facts.backupPath ? ` (the backup it took: ${shellQuote(facts.backupPath)})` : ''}`,
      }),
    };
  }
  // Changes began: say where the database stands and how to go back.
  const where = `the database stands after ${stands.lastStep}${stands.release ? ` (${stands.release})` : ''}`;
  const back = facts.backupPath
    ? `; to go back: npx zx scripts/restore.ts ${shellQuote(facts.backupPath)}`
    : facts.noBackup
      ? '; upkit took no backup (--no-backup): to go back, restore your own snapshot'
      : '';
  if (interrupted && (phase === 'verification' || phase === 'the containers and health checks')) {
    return {
      status,
      error: new UpkitError({
        code: 'interrupted',
        exit: 'interrupted',
        message: `${by} during ${during}; every step of the plan was applied and ${where}${recorded}`,
        hint:
          phase === 'verification'
            ? `finish the check with: npx zx verify/index.ts${back}`
            : `check the application with: npx zx scripts/health.ts${back}`,
      }),
    };
  }
  if (interrupted) {
    return {
      status,
      error: new UpkitError({
        code: 'interrupted',
        exit: 'interrupted',
        message: `${by} during ${during}; the statement in progress was rolled back and ${where}${recorded}`,
        hint: `run the upgrade again to finish${back}`,
      }),
    };
  }
  if (isUpkitError(err)) {
    // Its hint may say "nothing was changed" of its own transaction; the run as a whole did change things.
    return {
      status,
      error: new UpkitError({
        code: err.code,
        exit: 'failed',
        message: `${err.message}${err.message.includes('stands') ? '' : ` (${where})`}`,
        details: err.details,
        hint: `${err.hint ? err.hint.replace(/;?\s*nothing was changed\.?$/, '') : 'see the log file'}${back}`,
        cause: err,
      }),
    };
  }
  return {
    status,
    error: new UpkitError({
      code: 'upgrade.failed',
      exit: 'failed',
      message: `${(err as Error).message} (${where})`,
      hint: `see the log file${back}`,
      cause: err,
    }),
  };
}

/**
 * The lock wait of `--wait-for-lock`: who holds the lock is said as it begins, how long it took once the lock is taken.
 */
function lockWait(
  database: string,
  options: UpgradeOptions,
  log: Logger,
  report: ReportBuilder,
): { wait: LockWait | undefined; tookLock(): void } {
  const seconds = options.waitForLockSeconds;
  if (!seconds) return { wait: undefined, tookLock: () => {} };
  let waited: { who: string; since: number } | undefined;
  const wait: LockWait = {
    seconds,
    signal: options.signal,
    onWait(who) {
      waited = { who, since: performance.now() };
      log.info(
        `another upkit run holds the lock on ${database}: ${who}; waiting up to ${seconds} s for it (--wait-for-lock)`,
      );
    },
  };
  const tookLock = () => {
    if (!waited) return;
    const message =
      `waited ${formatDuration(performance.now() - waited.since)}` +
      ` for the run lock on ${database}, held by ${waited.who}; the plan is read again now`;
    report.finding('info', 'lock.waited', message);
    log.info(message);
  };
  return { wait, tookLock };
}

/**
 * An error PostgreSQL raised before the run changed anything (a lock or statement timeout the
 * role sets, a lost session while the plan read): a refusal, exit 3, that says nothing was
 * changed, with the sessions a lock wait stood behind; never "failed after changes began".
 */
async function unchanged(err: unknown, client: Pick<Client, 'query'>): Promise<unknown> {
  const holders = isPgError(err) && err.code === '55P03' ? await exclusiveHolders(client).catch(() => []) : [];
  return unchangedError(err, holders);
}

/**
 * unchanged()'s decision, given the sessions holding locks (read when the error is a lock
 * timeout). Other errors pass as they are.
 */
export function unchangedError(err: unknown, holders: readonly Blocker[]): unknown {
  if (isUpkitError(err) || !isPgError(err)) return err;
  const { headline, details } = formatPgError(err);
  const code = err.code ?? 'error';
  let hint = 'see the log file; nothing was changed: run the upgrade again when the cause is gone';
  if (code === '55P03') {
    if (holders.length) details.push(...holders.map(describeBlocker));
    hint = holders.length
      ? `wait for that work to end, or stop it with: SELECT pg_cancel_backend(` +
        `${holders[0]!.pid}); then run the upgrade again; nothing was changed`
      : 'a lock_timeout of the role or database ended the read: ' +
        'run the upgrade again when the database is quieter; nothing was changed';
  } else if (code === '57014') {
    hint =
      'a statement ran longer than the statement timeout (MIGRATION_TIMEOUT, or one the role ' +
      'or database sets): raise it, or run when the database is quieter; nothing was changed';
  }
  return new UpkitError({
    code: `pg.${code}`,
    exit: 'refused',
    message: `${headline} (while reading the database, before any change; nothing was changed)`,
    details,
    hint,
    cause: err,
  });
}

/**
 * An app whose last journal entry has no snapshot is verified against its migrations replayed
 * into a scratch database. When that replay cannot be had (a role without CREATEDB, no cached
 * replay, a migration the replay cannot run), the run is refused before the first write,
 * instead of applying every migration and then failing its verification. The replay made
 * here is cached: the verify step after the migrations reuses it.
 */
async function assertExpectedSchema(
  config: Config,
  content: Content,
  options: UpgradeOptions,
  log: Logger,
): Promise<void> {
  const last = content.migrations.at(-1);
  if (content.profile.legacy || !last || existsSync(snapshotPath(content.drizzleDir, last))) return;
  const expected = await expectedSchemaFor(
    config,
    loadVerifyFiles({ drizzleDir: content.drizzleDir, snapshotOptional: true }),
    { build: true, signal: options.signal, log },
  );
  if (expected.source !== 'snapshot') return;
  const why = expected.findings[0];
  throw new UpkitError({
    code: 'verify.expected_schema',
    exit: 'refused',
    message:
      `${displayPath(snapshotPath(content.drizzleDir, last))} does not exist and ` +
      `${why?.message.replace(/^expected schema from the snapshot: /, '') ?? 'the migrations could not be replayed'}` +
      `: the upgrade could not be verified; nothing was changed`,
    hint:
      `${why?.hint ?? 'add the snapshot drizzle-kit generates for the last entry'} (or ` +
      `add the snapshot drizzle-kit generates for ${last.tag}), then run the upgrade again`,
  });
}
