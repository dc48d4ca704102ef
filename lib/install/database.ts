// Getting to the database a fresh install needs: wait until the server answers (it may be
// a container still starting), and create the database through the maintenance database
// when it does not exist yet.
import type { Config, DbTarget } from '../config.ts';
import { connect } from '../db.ts';
import { isUpkitError, UpkitError } from '../errors.ts';
import type { Logger } from '../log.ts';

const RETRYABLE = new Set(['db.unreachable', 'db.starting', 'db.timeout', 'db.busy', 'db.unresolved']);

/** Connects to the maintenance database, retrying while the server is not up yet. */
export async function waitForServer(
  target: DbTarget,
  config: Config,
  log: Logger,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const maintenance = { ...target, database: 'postgres' };
  const deadline = Date.now() + timeoutMs;
  let wait = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      const c = await connect(maintenance, config, {
        applicationName: 'upkit install',
        connectTimeoutMs: Math.min(config.connectTimeoutMs, Math.max(1000, deadline - Date.now())),
      });
      await c.end();
      return;
    } catch (err) {
      // A missing maintenance database still proves the server is up.
      if (isUpkitError(err) && err.code === 'db.missing') return;
      if (!isUpkitError(err) || !RETRYABLE.has(err.code) || Date.now() + wait > deadline || signal?.aborted) {
        if (isUpkitError(err) && RETRYABLE.has(err.code)) {
          throw new UpkitError({
            code: err.code,
            exit: 'refused',
            message: `${err.message}, still after ${Math.round(timeoutMs / 1000)} s of waiting`,
            hint: err.hint,
          });
        }
        throw err;
      }
      if (attempt === 1)
        log.info(`waiting for PostgreSQL at ${target.host}:${target.port} (up to ${Math.round(timeoutMs / 1000)} s)…`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 3000);
    }
  }
}

/** Creates the target database when it is missing; true when it was created. */
export async function ensureDatabase(target: DbTarget, config: Config): Promise<boolean> {
  const c = await connect({ ...target, database: 'postgres' }, config, { applicationName: 'upkit install' });
  try {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [target.database]);
    if (rowCount) return false;
    try {
      await c.query(`create database ${c.escapeIdentifier(target.database)}`);
    } catch (err) {
      if ((err as { code?: string }).code === '42501') {
        throw new UpkitError({
          code: 'install.createdb',
          exit: 'refused',
          message:
            `database "${target.database}" does not exist and role ` +
            `"${target.user}" may not create databases (no CREATEDB)`,
          hint:
            `have an administrator run: CREATE DATABASE ${c.escapeIdentifier(target.database)}` +
            ` OWNER ${c.escapeIdentifier(target.user)}; then run npx zx install.ts again; nothing was changed`,
        });
      }
      throw err;
    }
    return true;
  } finally {
    await c.end().catch(() => {});
  }
}
