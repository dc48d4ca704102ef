// Each target's environment: the process's environment and the .env file (the environment
// wins, as dotenv does), with the connection, profile and backup folder of that target put in
// the keys loadConfig reads, and the ones meant for a single database taken out.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { envFileOf } from '../config.ts';
import { UpkitError } from '../errors.ts';
import { commandPattern } from '../invocation.ts';
import type { Target } from './file.ts';

/** Keys that name one database, its profile or its backups: set per target, never inherited. */
const PER_TARGET_KEYS = [
  'DATABASE_URL',
  'DIRECT_URL',
  'DB_HOST',
  'DB_PORT',
  'DB_USER',
  'DB_PASSWORD',
  'DB_NAME',
  'DB_SCHEMA',
  'DIRECT_URL_DIFFERENT_DATABASE',
  'UPKIT_DRIZZLE_DIR',
  'UPKIT_LEGACY_DIR',
  'BACKUP_DIR',
] as const;
const PARTS = ['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD', 'DB_NAME', 'DB_SCHEMA'] as const;

/** The environment and the configuration file (--dotenv, UPKIT_ENV_FILE or .env), merged as loadConfig merges them. */
export function baseEnvironment(env: NodeJS.ProcessEnv, cwd: string, envFile: string | undefined): NodeJS.ProcessEnv {
  const file = envFileOf(envFile, env, cwd)?.file ?? path.join(cwd, '.env');
  // An unreadable or broken file is loadConfig's to report, per target, with its line.
  let fromFile: Record<string, string> = {};
  try {
    if (existsSync(file)) fromFile = dotenv.parse(readFileSync(file, 'utf8'));
  } catch {
    fromFile = {};
  }
  return { ...fromFile, ...env };
}

function set(env: NodeJS.ProcessEnv, key: string, value: string | undefined): void {
  env[key] = value === undefined || value.trim() === '' ? undefined : value;
}

/** Where a target's configuration is read wrong: a problem of this target only (exit 2 for it). */
export function targetConfigError(target: Target, message: string, hint: string): UpkitError {
  return new UpkitError({ code: 'targets.config', exit: 'usage', message: `${target.name}: ${message}`, hint });
}

/**
 * The environment one target's command reads. Keys left undefined stay undefined on purpose:
 * loadConfig lets the environment win over .env, so an undefined key also hides the file's.
 */
export function targetEnvironment(target: Target, base: NodeJS.ProcessEnv, cwd: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const key of PER_TARGET_KEYS) env[key] = undefined;
  const where = 'the environment or .env';
  if (target.url !== undefined) {
    if (!base[target.url]?.trim())
      throw targetConfigError(
        target,
        `${target.url} is not set (its url)`,
        `set ${target.url} in ${where} to the database's URL, then run: npx zx scripts/preflight.ts`,
      );
    set(env, 'DATABASE_URL', base[target.url]);
  }
  if (target.prefix !== undefined) {
    const p = target.prefix;
    const missing = ['DB_HOST', 'DB_USER', 'DB_NAME'].filter((k) => !base[`${p}${k}`]?.trim()).map((k) => `${p}${k}`);
    if (missing.length)
      throw targetConfigError(
        target,
        `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set (its prefix ${p || '(none)'})`,
        `set ${missing.join(', ')} in ${where}, then run: npx zx scripts/preflight.ts`,
      );
    for (const k of PARTS) set(env, k, base[`${p}${k}`]);
    set(env, 'DIRECT_URL', base[`${p}DIRECT_URL`]);
    set(env, 'DIRECT_URL_DIFFERENT_DATABASE', base[`${p}DIRECT_URL_DIFFERENT_DATABASE`]);
  }
  if (target.directUrl !== undefined) {
    if (!base[target.directUrl]?.trim())
      throw targetConfigError(
        target,
        `${target.directUrl} is not set (its directUrl)`,
        `set ${target.directUrl} in ${where}, or remove directUrl ` +
          `from the target, then run: npx zx scripts/preflight.ts`,
      );
    set(env, 'DIRECT_URL', base[target.directUrl]);
  }
  if (target.profile.kind === 'app') env.UPKIT_DRIZZLE_DIR = target.profile.drizzleDir;
  // Each target's backups in a folder of its own: two databases of one name on two servers never mix.
  env.BACKUP_DIR = target.backupDir ?? path.join(path.resolve(cwd, base.BACKUP_DIR?.trim() || 'backups'), target.name);
  return env;
}

/** The commands that take --target: a hint naming one of them is made to name this target. */
const TARGETED = ['upgrade.ts', 'verify/index.ts', 'scripts/preflight.ts', 'scripts/status.ts', 'scripts/backup.ts'];

/**
 * A target's messages as its operator must read them: the variables named as the targets
 * file names them (ORDERS_DATABASE_URL, ORDERS_DB_HOST, not DATABASE_URL, DB_HOST), and a
 * hint's command for this target only (`npx zx scripts/preflight.ts --target orders`).
 */
export function localize(text: string, target: Target, targetsFlag: string): string {
  let out = text;
  if (target.url !== undefined) out = out.replace(/\bDATABASE_URL\b/g, target.url);
  if (target.prefix !== undefined && target.prefix !== '')
    out = out.replace(
      /\b(DB_(?:HOST|PORT|USER|PASSWORD|NAME|SCHEMA)|DIRECT_URL_DIFFERENT_DATABASE)\b/g,
      `${target.prefix}$1`,
    );
  if (target.directUrl !== undefined) out = out.replace(/\bDIRECT_URL\b(?!_)/g, target.directUrl);
  else if (target.prefix !== undefined && target.prefix !== '')
    out = out.replace(/\bDIRECT_URL\b(?!_)/g, `${target.prefix}DIRECT_URL`);
  return out.replace(commandPattern(TARGETED), `$1${targetsFlag} --target ${target.name}`);
}
