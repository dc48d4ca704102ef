// The `.env` a fresh install starts from. A missing file is created (mode 0600) with a
// database password and application secrets from a cryptographic source; an existing one
// is never overwritten: keys it lacks are appended, and listed by name, never by value.
// Before a secret is appended to a file other users can read, the file is made 0600.
// What is written is planned first and written only once install's checks have passed.
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import dotenv from 'dotenv';
import { UpkitError } from '../errors.ts';
import { registerSecret } from '../redact.ts';

export interface EnvKey {
  key: string;
  /** How a missing value is made; secrets are random and registered for redaction. */
  make: () => string;
  secret: boolean;
  comment: string;
}

/** A random URL-safe value of `bytes` bytes, for a secret an install writes. */
export const token = (bytes: number) => () => randomBytes(bytes).toString('base64url');

export interface EnvFileResult {
  path: string;
  created: boolean;
  /** Keys appended to an existing file (names only). */
  added: string[];
  /** The mode an existing file had when it was made 0600 before secrets were appended to it. */
  madePrivate: number | null;
  /** Keys set in the environment and missing from the file: left out of it, never given another value. */
  fromEnvironment: string[];
}

/** What install will write to `.env`, decided before anything is written. */
export interface EnvPlan {
  path: string;
  /** The file as it was when planned (null: there was none). */
  original: string | null;
  /** Keys the file lacks, with the values that will be written (secrets registered for redaction). */
  missing: Array<EnvKey & { value: string }>;
  fromEnvironment: string[];
}

/**
 * Decides the keys a `.env` lacks and their values, writing nothing. A key set in the
 * environment is never given a value of upkit's: that would rotate a secret (a fresh
 * ENCRYPTION_KEY makes every stored credential unreadable).
 */
export function planEnvFile(
  file: string,
  keys: readonly EnvKey[],
  environment: Record<string, string | undefined> = process.env,
): EnvPlan {
  const original = existsSync(file) ? readFileSync(file, 'utf8') : null;
  const present = original === null ? {} : dotenv.parse(original);
  for (const [k, v] of Object.entries(present)) if (/PASSWORD|SECRET|KEY|TOKEN/.test(k)) registerSecret(v);
  const fromEnvironment: string[] = [];
  const missing: EnvPlan['missing'] = [];
  for (const k of keys) {
    if (k.key in present) continue;
    if (environment[k.key]?.trim()) {
      fromEnvironment.push(k.key);
      continue;
    }
    const value = k.make();
    if (k.secret) registerSecret(value);
    missing.push({ ...k, value });
  }
  return { path: file, original, missing, fromEnvironment };
}

/** The planned values, as the environment upkit's configuration is loaded with before `.env` holds them. */
export function plannedValues(plan: EnvPlan): Record<string, string> {
  return Object.fromEntries(plan.missing.map((k) => [k.key, k.value]));
}

/**
 * Writes the plan: creates the file (mode 0600) or appends the missing keys. The file must
 * be byte for byte as it was planned: one changed in between is left alone.
 */
export function applyEnvPlan(plan: EnvPlan, label = 'Application'): EnvFileResult {
  const file = plan.path;
  const now = existsSync(file) ? readFileSync(file, 'utf8') : null;
  if (now !== plan.original) {
    throw new UpkitError({
      code: 'install.env_changed',
      exit: 'refused',
      message: `${file} changed while install was checking; nothing was written to it`,
      hint: 'run npx zx install.ts again',
    });
  }
  const base = { path: file, fromEnvironment: plan.fromEnvironment };
  if (plan.original === null) {
    const lines = [`# ${label} configuration, written by upkit install. Keep this file private (mode 0600).`];
    for (const k of plan.missing) lines.push(`# ${k.comment}`, `${k.key}=${k.value}`);
    writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return { ...base, created: true, added: plan.missing.map((k) => k.key), madePrivate: null };
  }
  let madePrivate: number | null = null;
  const mode = statSync(file).mode & 0o777;
  if (plan.missing.some((k) => k.secret) && (mode & 0o077) !== 0) {
    chmodSync(file, 0o600);
    madePrivate = mode;
  }
  if (plan.missing.length) {
    const text = plan.original;
    const lines = [`${text.endsWith('\n') || text === '' ? '' : '\n'}# added by upkit install`];
    for (const k of plan.missing) lines.push(`${k.key}=${k.value}`);
    appendFileSync(file, `${lines.join('\n')}\n`);
  }
  return { ...base, created: false, added: plan.missing.map((k) => k.key), madePrivate };
}
