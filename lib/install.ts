// A fresh install (npx zx install.ts): .env, the database server, the database, then the
// upgrade engine's own path on an empty database (same ledger, same safety), the first
// admin, and verification. It never touches an existing install: on a database that holds
// Pulse at any release it refuses and points to upgrade.ts; an install that failed half-way
// is finished by running it again.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { envFileOf, isOtherApp, loadConfig, PROJECT_ROOT, type EnvFileFlag } from './config.ts';
import { connect, withClient, withTransaction } from './db.ts';
import { EXIT, isUpkitError, UpkitError, usageError } from './errors.ts';
import { checkDirectUrl } from './directUrl.ts';
import { ensureDatabase, waitForServer } from './install/database.ts';
import { applyEnvPlan, type EnvFileResult, planEnvFile, plannedValues } from './install/envFile.ts';
import { readMigrations } from './drizzle/journal.ts';
import { readRuns } from './ledger.ts';
import type { Logger } from './log.ts';
import { appSchemas, assertOneInstall } from './inspect.ts';
import { detectInstall } from './profile.ts';
import { releaseName, type Profile, type ProfileFor } from './profileTypes.ts';
import type { ReportBuilder } from './report.ts';
import { containersAndHealth, runUpgrade } from './upgrade.ts';
import { runPreflight } from './preflight.ts';
import { showConfigWarnings } from './configWarnings.ts';
import { hostChecks } from './install/hostChecks.ts';
import { octalMode } from './privateFiles.ts';
import { shellQuote, sqlIdent } from './quote.ts';
import { plural } from './plural.ts';

export interface InstallOptions {
  /** Chooses the profile once the configuration (and so the drizzle folder) is known. */
  profileFor: ProfileFor;
  cwd: string;
  /** --dotenv (or --env-file): where .env is read and written; else UPKIT_ENV_FILE, else .env in cwd. */
  envFile?: { path: string; flag: EnvFileFlag };
  adminEmail?: string;
  adminPassword?: () => Promise<string>;
  organization: string;
  drizzleDir?: string;
  containers: boolean;
  /** `--no-backup`: the operator's own snapshots replace upkit's backups (pg_dump is not needed). */
  noBackup?: boolean;
  /** `--allow-destructive[=TAG,…]`: what the lint finds in an install that resumes on data (a fresh one has none). */
  allowDestructive?: boolean | readonly string[];
  upkitVersion: string;
  signal?: AbortSignal;
}

/** Refuses a database that already holds an install, unless it is an install upkit began and did not finish. */
async function assertFresh(config: Config, profile: Profile, log: Logger): Promise<void> {
  await withClient(
    config.migrationDb,
    config,
    async (c) => {
      // Tables in the schemas the app's sessions reach (its search_path; public for Pulse).
      const schemas = await appSchemas(c);
      const tables = (
        await c.query<{ n: number }>(
          `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = ` +
            `c.relnamespace where n.nspname = any($1::text[]) and c.relkind in ('r', 'p')`,
          [schemas],
        )
      ).rows[0]!.n;
      const detection = await detectInstall(c, profile);
      await assertOneInstall(c, config, profile, detection);
      if (tables === 0 && detection.release === null) return;
      const runs = (await readRuns(c, 100)) ?? [];
      const installs = runs.filter((r) => r.command === 'install');
      const unfinished = installs.length > 0 && !installs.some((r) => r.status === 'ok');
      if (unfinished) {
        log.warn(
          `an earlier install of ${config.migrationDb.database} did not finish (${installs[0]!.status}); finishing it`,
        );
        return;
      }
      const what = detection.release
        ? releaseName(profile, detection.release)
        : `${plural(tables, 'table')} that ${tables === 1 ? 'is' : 'are'} not an install upkit made`;
      throw new UpkitError({
        code: 'install.exists',
        exit: 'refused',
        message: `${config.migrationDb.database} already holds ${what}; install never changes an existing database`,
        hint: detection.release
          ? 'to bring it to the latest release run: npx zx upgrade.ts --dry-run, then npx zx upgrade.ts'
          : 'install into an empty or missing database (set DB_NAME ' +
            'or DATABASE_URL), or upgrade it with npx zx upgrade.ts',
      });
    },
    { applicationName: 'upkit install' },
  );
}

export async function runInstall(log: Logger, report: ReportBuilder, options: InstallOptions): Promise<number> {
  const envPath = options.envFile
    ? path.resolve(options.cwd, options.envFile.path)
    : (envFileOf(undefined, process.env, options.cwd)?.file ?? path.join(options.cwd, '.env'));
  const hasUrl = Boolean(process.env.DATABASE_URL?.trim());
  // What .env lacks is decided now and written only once every check below has passed: a
  // refusal leaves an existing .env byte for byte as it was. A missing .env is written at
  // once (it replaces nothing, and a database container started from it needs DB_PASSWORD).
  // The keys are the profile's (Pulse's secrets and database); the folders decide which profile.
  const early = options.profileFor({
    drizzleDir: path.resolve(
      options.cwd,
      options.drizzleDir ?? (process.env.UPKIT_DRIZZLE_DIR?.trim() || path.join(PROJECT_ROOT, 'drizzle')),
    ),
    legacyDir: path.join(PROJECT_ROOT, 'legacy-sql'),
  });
  const label = early.label ?? 'Application';
  const plan = planEnvFile(envPath, early.envKeys?.(hasUrl || /^DATABASE_URL=/m.test(safeRead(envPath))) ?? []);
  for (const key of plan.fromEnvironment) {
    const message =
      `${key} is set in the environment and not in ${envPath}: ` +
      `kept as it is, no other value was written to the file`;
    const hint =
      `if ${isOtherApp(options.drizzleDir, options.cwd) ? "the app's" : "Pulse's"} ` +
      `containers read ${envPath}, copy ${key} into it yourself (the value in the environment)`;
    report.finding('warning', 'install.env_from_environment', message, hint);
    log.warn(`${message}\n  → ${hint}`);
  }
  if (plan.original === null && plan.missing.length) writeEnv(applyEnvPlan(plan, label), log, report);

  const config = loadConfig({
    cwd: options.cwd,
    envFile: options.envFile?.path,
    envFileFlag: options.envFile?.flag,
    env: { ...plannedValues(plan), ...process.env },
    overrides: { drizzleDir: options.drizzleDir },
  });
  showConfigWarnings(config, log, report);
  const profile = options.profileFor(config);
  // Refused before anything is created: the first admin is the profile's (Pulse's) to make.
  if (options.adminEmail && !profile.createAdmin)
    throw usageError('--admin-email creates a Pulse organization and user; it does not apply with --drizzle-dir');
  assertTagsExist(config, options.allowDestructive);
  const target = config.migrationDb;
  await log.step(`PostgreSQL at ${target.host}:${target.port}`, async (s) => {
    await waitForServer(target, config, log, config.dbWaitTimeoutMs, options.signal);
    s.detail('answers');
  });
  let created = false;
  await log.step(`database ${target.database}`, async (s) => {
    created = await ensureDatabase(target, config);
    s.detail(created ? 'created' : 'exists');
  });
  // Once the database exists (install may just have created it, empty) and before anything is written in it.
  try {
    await checkDirectUrl(config, log, report, 'install');
  } catch (err) {
    if (!created || !isUpkitError(err)) throw err;
    // The refusal must not say nothing was done: the empty database install made is named, with how to drop it.
    report.changed = true;
    throw new UpkitError({
      code: err.code,
      exit: err.exit,
      message: err.message,
      details: [
        ...err.details,
        `install had just created the empty database ${target.database} (${target.host}` +
          `:${target.port}) that DIRECT_URL names; nothing was written in it`,
      ],
      hint:
        `${err.hint ?? 'see the log file'}; drop the empty database if ` +
        `it is not wanted: DROP DATABASE ${sqlIdent(target.database)};`,
      cause: err,
    });
  }
  await assertFresh(config, profile, log);
  // The same readiness checks as preflight, plus the host's when containers will be started.
  const ready = await runPreflight(config, log, report, { profile, backup: options.noBackup !== true });
  if (options.containers && config.composeFile) {
    await log.step('host', async (s) => {
      // The 2 GiB are what Pulse's containers need; another app's needs are its own.
      const findings = await hostChecks(config.composeFile!, undefined, profile.minMemoryBytes ?? null);
      for (const f of findings) {
        report.findings.push(f);
        if (f.severity !== 'info')
          (f.severity === 'error' ? log.error : log.warn)(`${f.message}${f.hint ? `\n  → ${f.hint}` : ''}`);
      }
      const errors = findings.filter((f) => f.severity === 'error');
      if (errors.length)
        throw new UpkitError({
          code: 'install.host',
          exit: 'refused',
          message: `${plural(errors.length, 'host check')} failed; nothing was installed`,
          hint: errors[0]!.hint ?? undefined,
        });
      s.detail(findings.find((f) => f.code === 'install.docker')?.message ?? 'ok');
    });
  }
  if (!ready.ok) {
    throw new UpkitError({
      code: 'install.preflight',
      exit: 'refused',
      message: 'preflight refused the install; nothing was installed',
      hint: report.findings.find((f) => f.severity === 'error')?.hint ?? 'run: npx zx scripts/preflight.ts',
    });
  }
  const password = options.adminEmail ? await options.adminPassword?.() : undefined;
  if (options.adminEmail && !password)
    throw usageError(
      '--admin-email needs a password: pass --admin-password-file PATH, or run on a terminal to be asked',
    );

  // Containers and health come after the admin exists, so the application starts complete.
  // What an existing .env lacks is appended once the plan and every check before the first
  // write have passed (a refusal of the plan, the lint or a busy lock leaves it as it was).
  let envWritten = plan.original === null;
  const beforeFirstWrite = async (): Promise<boolean> => {
    if (!envWritten) writeEnv(applyEnvPlan(plan, label), log, report);
    envWritten = true;
    return true;
  };
  const code = await runUpgrade(config, log, report, {
    profile,
    dryRun: false,
    allowDestructive: options.allowDestructive ?? false,
    upkitVersion: options.upkitVersion,
    command: 'install',
    signal: options.signal,
    skipBackupWhenEmpty: true,
    noBackup: options.noBackup === true,
    containers: false,
    confirm: beforeFirstWrite,
  });
  // A plan with nothing to apply never reaches its first write.
  if (code === EXIT.ok) await beforeFirstWrite();
  if (code !== EXIT.ok) return code;

  if (options.adminEmail && password) {
    const createAdmin = profile.createAdmin!;
    const c = await connect(target, config, { applicationName: 'upkit install' });
    try {
      const outcome = await withTransaction(c, async () => {
        const r = await createAdmin(c, { email: options.adminEmail!, password, organization: options.organization });
        if (profile.seed && profile.latestRelease) await profile.seed.apply(c, profile.latestRelease);
        return r;
      });
      log.info(
        outcome === 'created'
          ? `created organization "${options.organization}" and admin ${options.adminEmail.toLowerCase()}`
          : `a user ${options.adminEmail.toLowerCase()} exists already; left as it is`,
      );
    } finally {
      await c.end().catch(() => {});
    }
  }
  if (options.containers)
    return containersAndHealth(config, profile, log, report, profile.latestRelease ?? undefined, options.signal);
  return EXIT.ok;
}

/** A typo in `--allow-destructive=TAG` is refused before the database is even created (the plan checks the rest). */
function assertTagsExist(config: Config, allow: InstallOptions['allowDestructive']): void {
  if (!Array.isArray(allow)) return;
  const tags = new Set(readMigrations(config.drizzleDir).map((m) => m.tag));
  const unknown = allow.map((t) => t.replace(/\.sql$/, '')).filter((t) => !tags.has(t));
  if (unknown.length === 0) return;
  throw new UpkitError({
    code: 'lint.accept_unknown',
    exit: 'usage',
    message:
      `--allow-destructive names ${unknown.join(', ')}, ` +
      `which ${unknown.length > 1 ? 'are not migrations' : 'is not a migration'} of ${config.drizzleDir}`,
    hint: 'run again without --allow-destructive: a fresh install has nothing to lose; nothing was changed',
  });
}

function writeEnv(env: EnvFileResult, log: Logger, report: ReportBuilder): void {
  if (env.created) log.info(`wrote ${env.path} (mode 0600) with ${env.added.join(', ')}`);
  else if (env.added.length) log.info(`added to ${env.path}: ${env.added.join(', ')} (existing values kept)`);
  else log.debug(`${env.path} has every key already`);
  if (env.madePrivate !== null) {
    const message =
      `${env.path} could be read by other users (mode ${octalMode(env.madePrivate)}` +
      `): made it 0600 before adding secrets to it`;
    const hint =
      'the new secrets were never readable by others; ' +
      'change the values that were already in it if other users can log in here';
    report.finding('warning', 'install.env_made_private', message, hint);
    log.warn(message);
    log.info(`  → ${hint}`);
  } else if ((statSync(env.path).mode & 0o077) !== 0)
    log.warn(`${env.path} can be read by other users: run chmod 600 ${shellQuote(env.path)}`);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
