// The library: upkit run from inside an application (`import { upgrade } from 'upkit'`), at
// start-up say. Each function runs the command as the command line does (lib/cli.ts
// executeCommand): the same parsing, checks, report and exit code, but with configuration
// from the options, progress on the given stream, no signal handlers, nothing on stdout, and
// never process.exit. The app is the container, so containers are never rebuilt from here.
import { executeCommand, type CommandIO, type CommandSpec } from './cli.ts';
import { upgradeCommand } from './commands/upgrade.ts';
import { verifyCommand } from './commands/verify.ts';
import { EXIT } from './errors.ts';
import type { Report, RunOutcome, RunStatus } from './report.ts';
import type { ApiOptions, ApiResult, UpgradeApiOptions, VerifyApiOptions } from '../index.d.ts';

export type { ApiOptions, ApiResult, UpgradeApiOptions, VerifyApiOptions, LogStream } from '../index.d.ts';
export type { Report, RunOutcome, RunStatus };
export { EXIT };

/** The environment the command reads: the app's (or process.env), with its database URL when given. */
function environment(options: ApiOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  if (options.databaseUrl !== undefined) env.DATABASE_URL = options.databaseUrl;
  return env;
}

/** Flags common to every command: where the configuration and the app's migrations are. */
function commonArgs(options: ApiOptions): string[] {
  return [
    ...(options.envFile !== undefined ? ['--dotenv', options.envFile] : []),
    ...(options.drizzleDir !== undefined ? ['--drizzle-dir', options.drizzleDir] : []),
  ];
}

async function run(spec: CommandSpec, args: string[], options: ApiOptions): Promise<ApiResult> {
  const env = environment(options);
  const stream = (options.log ?? process.stderr) as NodeJS.WriteStream;
  const io: CommandIO = {
    env,
    cwd: options.cwd,
    stream,
    // The command's result for a person goes where its progress goes: stdout is the app's.
    out: (text) => void stream.write(`${text}\n`),
    logDir: options.logDir ?? env.UPKIT_LOG_DIR,
    signal: options.signal,
    interactive: false,
  };
  const { exitCode, report } = await executeCommand(spec, args, io);
  return { ok: exitCode === EXIT.ok, exitCode, status: report.status, outcome: report.outcome, report };
}

/**
 * Brings the database to the latest entry of the app's migrations (or Pulse's release), as
 * `npx zx upgrade.ts --yes --no-containers` does: a verified backup first unless `backup` is
 * false, then the migrations, then verification. With `waitForLockSeconds`, a replica that
 * finds another run migrating waits for it, plans again (nothing pending), verifies and returns.
 */
export function upgrade(options: UpgradeApiOptions = {}): Promise<ApiResult> {
  const args = ['--yes', '--no-containers', ...commonArgs(options)];
  if (options.waitForLockSeconds !== undefined) args.push('--wait-for-lock', String(options.waitForLockSeconds));
  if (options.backup === false) args.push('--no-backup');
  if (options.backupDir !== undefined) args.push('--backup-dir', options.backupDir);
  if (options.dryRun) args.push('--dry-run');
  if (options.allowDestructive === true) args.push('--allow-destructive');
  else if (Array.isArray(options.allowDestructive))
    args.push(`--allow-destructive=${options.allowDestructive.join(',')}`);
  return run(upgradeCommand, args, options);
}

/** Read-only verification, as `npx zx verify/index.ts` does; the findings are in the report. */
export function verify(options: VerifyApiOptions = {}): Promise<ApiResult> {
  return run(verifyCommand, [...commonArgs(options), ...(options.shadow === false ? ['--no-shadow'] : [])], options);
}
