// HEALTH_TIMEOUT and COMPOSE_TIMEOUT (milliseconds, like every *_TIMEOUT key). A loaded
// Config has them validated with every other key; callers holding only part of a Config
// (tests, tools) get them read here the same way: the environment first, then the `.env`
// file configuration loading used (dotenv's order).
import { readFileSync } from 'node:fs';
import dotenv from 'dotenv';
import type { Config } from '../config.ts';
import { UpkitError } from '../errors.ts';

export const HEALTH_TIMEOUT_DEFAULT_MS = 120_000;
export const COMPOSE_TIMEOUT_DEFAULT_MS = 300_000;

export type SettingsSource = Pick<Config, 'envFile'> & Partial<Pick<Config, 'healthTimeoutMs' | 'composeTimeoutMs'>>;

const fileCache = new Map<string, Record<string, string>>();

function fromEnvFile(file: string | undefined): Record<string, string> {
  if (!file) return {};
  let values = fileCache.get(file);
  if (!values) {
    try {
      values = dotenv.parse(readFileSync(file, 'utf8'));
    } catch {
      // loadConfig already reported an unreadable file
      values = {};
    }
    fileCache.set(file, values);
  }
  return values;
}

/** A key's raw value: the environment wins over the `.env` file, as with dotenv. */
export function readSetting(
  config: SettingsSource | undefined,
  key: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const v = env[key] ?? fromEnvFile(config?.envFile)[key];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** A whole number of milliseconds above 0; anything else is a configuration error (exit 2). */
export function parseTimeout(key: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n === 0) {
    throw new UpkitError({
      code: 'config.invalid',
      exit: 'usage',
      message: `${key}: must be a whole number of milliseconds above 0, got "${raw}"`,
      hint: `fix ${key} in .env or the environment, then run the command again`,
    });
  }
  return n;
}

export function healthTimeoutMs(config: SettingsSource | undefined, env?: NodeJS.ProcessEnv): number {
  if (config?.healthTimeoutMs !== undefined && env === undefined) return config.healthTimeoutMs;
  return parseTimeout('HEALTH_TIMEOUT', readSetting(config, 'HEALTH_TIMEOUT', env), HEALTH_TIMEOUT_DEFAULT_MS);
}

export function composeTimeoutMs(config: SettingsSource | undefined, env?: NodeJS.ProcessEnv): number {
  if (config?.composeTimeoutMs !== undefined && env === undefined) return config.composeTimeoutMs;
  return parseTimeout('COMPOSE_TIMEOUT', readSetting(config, 'COMPOSE_TIMEOUT', env), COMPOSE_TIMEOUT_DEFAULT_MS);
}
