// A fresh install (npx zx install.ts): .env, the database server, the database, then the
// upgrade engine's own path on an empty database (same ledger, same safety), the first
// admin, and verification. It never touches an existing install: on a database that holds
// Pulse at any release it refuses and points to upgrade.ts; an install that failed half-way
// is finished by running it again.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { applySeed, LATEST_RELEASE } from '../drizzle/seed.ts';
import type { Config } from './config.ts';
import { loadConfig } from './config.ts';
import { connect, withClient, withTransaction } from './db.ts';
import { EXIT, UpkitError, usageError } from './errors.ts';
import { createAdmin } from './install/admin.ts';
import { ensureDatabase, waitForServer } from './install/database.ts';
import { applyEnvPlan, type EnvFileResult, planEnvFile, plannedValues, pulseEnvKeys } from './install/envFile.ts';
import { readRuns } from './ledger.ts';
import type { Logger } from './log.ts';
import { assertOneInstall } from './inspect.ts';
import { detectInstall, isPulse } from './profile.ts';
import type { ReportBuilder } from './report.ts';
import { containersAndHealth, runUpgrade } from './upgrade.ts';
import { runPreflight } from './preflight.ts';
import { showConfigWarnings } from './cli.ts';
import { hostChecks, MIN_MEMORY_BYTES } from './install/hostChecks.ts';
import { octalMode } from './privateFiles.ts';
import { shellQuote } from './quote.ts';
import { plural } from './plural.ts';

export interface InstallOptions {
  cwd: string;
  envFile?: string;
  adminEmail?: string;
  adminPassword?: () => Promise<string>;
  organization: string;
  drizzleDir?: string;
  containers: boolean;
  /** `--no-backup`: the operator's own snapshots replace upkit's backups (pg_dump is not needed). */
  noBackup?: boolean;
  upkitVersion: string;
  signal?: AbortSignal;
}

/** Refuses a database that already holds an install, unless it is an install upkit began and did not finish. */
async function assertFresh(config: Config, log: Logger): Promise<void> {
  await withClient(config.migrationDb, config, async (c) => {
    const tables = (await c.query<{ n: number }>(`select count(*)::int as n from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p')`)).rows[0]!.n;
    const detection = await detectInstall(c, config);
    await assertOneInstall(c, config, detection);
    if (tables === 0 && detection.release === null) return;
    const runs = (await readRuns(c, 100)) ?? [];
    const installs = runs.filter((r) => r.command === 'install');
    const unfinished = installs.length > 0 && !installs.some((r) => r.status === 'ok');
    if (unfinished) {
      log.warn(`an earlier install of ${config.migrationDb.database} did not finish (${installs[0]!.status}); finishing it`);
      return;
    }
    const what = detection.release ? `${isPulse(config) ? 'Pulse ' : ''}${detection.release}` : `${plural(tables, 'table')} that ${tables === 1 ? 'is' : 'are'} not an install upkit made`;
    throw new UpkitError({
      code: 'install.exists',
      exit: 'refused',
      message: `${config.migrationDb.database} already holds ${what}; install never changes an existing database`,
      hint: detection.release ? 'to bring it to the latest release run: npx zx upgrade.ts --dry-run, then npx zx upgrade.ts' : 'install into an empty or missing database (set DB_NAME or DATABASE_URL), or upgrade it with npx zx upgrade.ts',
    });
  }, { applicationName: 'upkit install' });
}

export async function runInstall(log: Logger, report: ReportBuilder, options: InstallOptions): Promise<number> {
  const envPath = path.resolve(options.cwd, options.envFile ?? '.env');
  const hasUrl = Boolean(process.env.DATABASE_URL?.trim());
  // What .env lacks is decided now and written only once every check below has passed: a
  // refusal leaves an existing .env byte for byte as it was. A missing .env is written at
  // once (it replaces nothing, and a database container started from it needs DB_PASSWORD).
  const plan = planEnvFile(envPath, pulseEnvKeys(hasUrl || /^DATABASE_URL=/m.test(safeRead(envPath))));
  for (const key of plan.fromEnvironment) {
    const message = `${key} is set in the environment and not in ${envPath}: kept as it is, no other value was written to the file`;
    const hint = `if ${options.drizzleDir && !isPulse({ drizzleDir: options.drizzleDir }) ? "the app's" : "Pulse's"} containers read ${envPath}, copy ${key} into it yourself (the value in the environment)`;
    report.finding('warning', 'install.env_from_environment', message, hint);
    log.warn(`${message}\n  → ${hint}`);
  }
  if (plan.original === null) writeEnv(applyEnvPlan(plan), log, report);

  const config = loadConfig({ cwd: options.cwd, envFile: options.envFile, env: { ...plannedValues(plan), ...process.env }, overrides: { drizzleDir: options.drizzleDir } });
  showConfigWarnings(config, log, report);
  const target = config.migrationDb;
  await log.step(`PostgreSQL at ${target.host}:${target.port}`, async (s) => {
    await waitForServer(target, config, log, config.dbWaitTimeoutMs, options.signal);
    s.detail('answers');
  });
  await log.step(`database ${target.database}`, async (s) => {
    s.detail((await ensureDatabase(target, config)) ? 'created' : 'exists');
  });
  await assertFresh(config, log);
  // The same readiness checks as preflight, plus the host's when containers will be started.
  const ready = await runPreflight(config, log, report, { backup: options.noBackup !== true });
  if (options.containers && config.composeFile) {
    await log.step('host', async (s) => {
      // The 2 GiB are what Pulse's containers need; another app's needs are its own.
      const findings = await hostChecks(config.composeFile!, undefined, isPulse(config) ? MIN_MEMORY_BYTES : null);
      for (const f of findings) {
        report.findings.push(f);
        if (f.severity !== 'info') (f.severity === 'error' ? log.error : log.warn)(`${f.message}${f.hint ? `\n  → ${f.hint}` : ''}`);
      }
      const errors = findings.filter((f) => f.severity === 'error');
      if (errors.length) throw new UpkitError({ code: 'install.host', exit: 'refused', message: `${plural(errors.length, 'host check')} failed; nothing was installed`, hint: errors[0]!.hint ?? undefined });
      s.detail(findings.find((f) => f.code === 'install.docker')?.message ?? 'ok');
    });
  }
  if (!ready.ok) {
    throw new UpkitError({ code: 'install.preflight', exit: 'refused', message: 'preflight refused the install; nothing was installed', hint: report.findings.find((f) => f.severity === 'error')?.hint ?? 'run: npx zx scripts/preflight.ts' });
  }
  const password = options.adminEmail ? await options.adminPassword?.() : undefined;
  if (options.adminEmail && !password) throw usageError('--admin-email needs a password: pass --admin-password-file PATH, or run on a terminal to be asked');
  if (plan.original !== null) writeEnv(applyEnvPlan(plan), log, report);

  // Containers and health come after the admin exists, so the application starts complete.
  const code = await runUpgrade(config, log, report, { dryRun: false, allowDestructive: false, upkitVersion: options.upkitVersion, command: 'install', signal: options.signal, skipBackupWhenEmpty: true, noBackup: options.noBackup === true, containers: false });
  if (code !== EXIT.ok) return code;

  if (options.adminEmail && password) {
    if (!isPulse(config)) throw usageError('--admin-email creates a Pulse organization and user; it does not apply with --drizzle-dir');
    const c = await connect(target, config, { applicationName: 'upkit install' });
    try {
      const outcome = await withTransaction(c, async () => {
        const r = await createAdmin(c, { email: options.adminEmail!, password, organization: options.organization });
        await applySeed(c, LATEST_RELEASE);
        return r;
      });
      log.info(outcome === 'created' ? `created organization "${options.organization}" and admin ${options.adminEmail.toLowerCase()}` : `a user ${options.adminEmail.toLowerCase()} exists already; left as it is`);
    } finally {
      await c.end().catch(() => {});
    }
  }
  if (options.containers) return containersAndHealth(config, log, report, isPulse(config) ? LATEST_RELEASE : undefined, options.signal);
  return EXIT.ok;
}

function writeEnv(env: EnvFileResult, log: Logger, report: ReportBuilder): void {
  if (env.created) log.info(`wrote ${env.path} (mode 0600) with ${env.added.join(', ')}`);
  else if (env.added.length) log.info(`added to ${env.path}: ${env.added.join(', ')} (existing values kept)`);
  else log.debug(`${env.path} has every key already`);
  if (env.madePrivate !== null) {
    const message = `${env.path} could be read by other users (mode ${octalMode(env.madePrivate)}): made it 0600 before adding secrets to it`;
    const hint = 'the new secrets were never readable by others; change the values that were already in it if other users can log in here';
    report.finding('warning', 'install.env_made_private', message, hint);
    log.warn(message);
    log.info(`  → ${hint}`);
  } else if ((statSync(env.path).mode & 0o077) !== 0) log.warn(`${env.path} can be read by other users: run chmod 600 ${shellQuote(env.path)}`);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
