// The `.env` a fresh install starts from. A missing file is created (mode 0600) with a
// database password and application secrets from a cryptographic source; an existing one
// is never overwritten: keys it lacks are appended, and listed by name, never by value.
// Before a secret is appended to a file other users can read, the file is made 0600.
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import dotenv from 'dotenv';
import { registerSecret } from '../redact.ts';

export interface EnvKey {
  key: string;
  /** How a missing value is made; secrets are random and registered for redaction. */
  make: () => string;
  secret: boolean;
  comment: string;
}

const token = (bytes: number) => () => randomBytes(bytes).toString('base64url');

/** What Pulse's containers and upkit read. DB_* only when no DATABASE_URL is configured. */
export function pulseEnvKeys(hasDatabaseUrl: boolean): EnvKey[] {
  const db: EnvKey[] = hasDatabaseUrl
    ? []
    : [
        { key: 'DB_HOST', make: () => 'localhost', secret: false, comment: 'database host (the compose service name when PostgreSQL runs in compose)' },
        { key: 'DB_PORT', make: () => '5432', secret: false, comment: 'database port' },
        { key: 'DB_USER', make: () => 'pulse', secret: false, comment: 'database role' },
        { key: 'DB_PASSWORD', make: token(24), secret: true, comment: 'database password' },
        { key: 'DB_NAME', make: () => 'config_management', secret: false, comment: 'database name' },
      ];
  return [
    ...db,
    { key: 'JWT_SECRET', make: token(48), secret: true, comment: 'signs session tokens' },
    { key: 'SESSION_SECRET', make: token(48), secret: true, comment: 'signs cookies' },
    { key: 'ENCRYPTION_KEY', make: () => randomBytes(32).toString('hex'), secret: true, comment: 'encrypts stored integration credentials (AES-256)' },
  ];
}

export interface EnvFileResult {
  path: string;
  created: boolean;
  /** Keys appended to an existing file (names only). */
  added: string[];
  /** The mode an existing file had when it was made 0600 before secrets were appended to it. */
  madePrivate: number | null;
}

export function ensureEnvFile(file: string, keys: readonly EnvKey[]): EnvFileResult {
  if (!existsSync(file)) {
    const lines = ['# Pulse configuration, written by upkit install. Keep this file private (mode 0600).'];
    for (const k of keys) {
      const value = k.make();
      if (k.secret) registerSecret(value);
      lines.push(`# ${k.comment}`, `${k.key}=${value}`);
    }
    writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return { path: file, created: true, added: keys.map((k) => k.key), madePrivate: null };
  }
  const text = readFileSync(file, 'utf8');
  const present = dotenv.parse(text);
  for (const [k, v] of Object.entries(present)) if (/PASSWORD|SECRET|KEY|TOKEN/.test(k)) registerSecret(v);
  const missing = keys.filter((k) => !(k.key in present));
  let madePrivate: number | null = null;
  const mode = statSync(file).mode & 0o777;
  if (missing.some((k) => k.secret) && (mode & 0o077) !== 0) {
    chmodSync(file, 0o600);
    madePrivate = mode;
  }
  if (missing.length) {
    const lines = [`${text.endsWith('\n') || text === '' ? '' : '\n'}# added by upkit install`];
    for (const k of missing) {
      const value = k.make();
      if (k.secret) registerSecret(value);
      lines.push(`${k.key}=${value}`);
    }
    appendFileSync(file, `${lines.join('\n')}\n`);
  }
  return { path: file, created: false, added: missing.map((k) => k.key), madePrivate };
}
