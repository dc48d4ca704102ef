// The whole restore an operator asks for: check the backup, look at the server, confirm,
// then either restore into a new database beside the live one (--into), or restore into a
// temporary database, check it, and swap names with the live one, which is kept.
import type { Config } from '../config.ts';
import { withAdvisoryLock, withClient } from '../db.ts';
import { UpkitError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { detectInstall } from '../profile.ts';
import { interrupted, restoreInto, type RestoreResult } from './restore.ts';
import { checkBackup, type CheckedBackup } from './restoreCheck.ts';
import { databaseExists, dropDatabase, freeName, mayActAs, readDatabaseFacts, targetFor, withMaintenanceClient, type DatabaseFacts } from './restoreDb.ts';
import { formatBytes } from './space.ts';
import { shellQuote, sqlIdent } from '../quote.ts';
import { sessionsBeyondReach, swapDatabases, type SwapNames, type SwapResult } from './swap.ts';

export interface RestorePlan {
  backup: CheckedBackup;
  /** The configured database. */
  live: string;
  /** host:port */
  server: string;
  /** The database the backup is restored into: --into NAME, or the temporary one swapped in. */
  target: string;
  /** Set for an in-place restore. */
  swap: SwapNames | undefined;
  liveFacts: DatabaseFacts | undefined;
  /** The live database's release, when it could be read. */
  liveRelease: string | null;
}

export interface RestoreRequest {
  file: string;
  into?: string;
  noOwner?: boolean;
  signal?: AbortSignal;
  /** Told as soon as the backup has passed its checks. */
  onChecked?(backup: CheckedBackup): void;
  /** Asked once everything has been checked and before anything is created; throws to stop. */
  confirm?(plan: RestorePlan): Promise<void>;
  now?: Date;
}

export interface RestoreOutcome {
  plan: RestorePlan;
  result: RestoreResult;
  swap: SwapResult | undefined;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function refuse(code: string, message: string, hint: string): UpkitError {
  return new UpkitError({ code, exit: 'refused', message, hint: `${hint}; nothing was changed` });
}

async function planRestore(config: Config, backup: CheckedBackup, request: RestoreRequest): Promise<RestorePlan> {
  const live = config.migrationDb.database;
  const at = request.now ?? new Date();
  const plan = await withMaintenanceClient(config, async (c) => {
    const { rows } = await c.query<{ user: string; superuser: boolean; createdb: boolean }>(
      'select current_user as user, rolsuper as superuser, rolcreatedb as createdb from pg_roles where rolname = current_user',
    );
    const me = rows[0]!;
    if (!me.superuser && !me.createdb) {
      throw refuse('restore.no_createdb', `role "${me.user}" cannot create databases, and a restore always restores into a new one`, `as an administrator, run: ALTER ROLE ${sqlIdent(me.user)} CREATEDB; then run the restore again`);
    }
    const liveFacts = await readDatabaseFacts(c, live);
    const ownsLive = liveFacts !== undefined && (await mayActAs(c, liveFacts.owner));
    if (request.into !== undefined) {
      if (await databaseExists(c, request.into)) throw refuse('restore.target_exists', `database ${request.into} already exists`, 'choose a new name with --into NAME, or drop that database first');
      return { target: request.into, swap: undefined, liveFacts: ownsLive ? liveFacts : undefined };
    }
    if (!liveFacts) {
      throw refuse('restore.no_live', `database ${live} does not exist, so there is nothing to restore in place`, `to restore it under that name, run: npx zx scripts/restore.ts ${shellQuote(backup.path)} --into ${shellQuote(live)}`);
    }
    if (!ownsLive) {
      throw refuse('restore.not_owner', `role "${me.user}" does not own database ${live} (owner: ${liveFacts.owner}), so it cannot swap it`, `run the restore as ${liveFacts.owner} or a superuser, or restore beside it with --into NAME`);
    }
    const restored = await freeName(c, live, 'restore', at);
    const previous = await freeName(c, live, 'before_restore', at, [restored]);
    return { target: restored, swap: { live, restored, previous }, liveFacts };
  });
  let liveRelease: string | null = null;
  if (plan.liveFacts) {
    liveRelease = await withClient(config.migrationDb, config, async (c) => (await detectInstall(c, config)).release, { applicationName: 'upkit restore' }).catch(() => null);
  }
  return { backup, live, server: `${config.migrationDb.host}:${config.migrationDb.port}`, ...plan, liveRelease };
}

export async function restoreBackup(config: Config, log: Logger, request: RestoreRequest): Promise<RestoreOutcome> {
  const backup = await log.step('check backup', async (step) => {
    const b = await checkBackup(config, request.file);
    const m = b.manifest;
    step.detail(`${formatBytes(m.bytes)}, sha256 and size as in its manifest, pg_restore --list read ${b.tocEntries} entries; taken ${m.createdAt} from ${m.database} at release ${m.release ?? 'none'}`);
    return b;
  });
  request.onChecked?.(backup);
  const plan = await log.step(`check ${config.migrationDb.host}:${config.migrationDb.port}`, async (step) => {
    const p = await planRestore(config, backup, request);
    step.detail(p.swap ? `${p.live} will be swapped with ${p.swap.restored}, and kept as ${p.swap.previous}` : `${p.target} is free; ${p.live} is not touched`);
    return p;
  });
  if (backup.manifest.database !== plan.live) log.warn(`this backup was taken from database ${backup.manifest.database}, not ${plan.live}`);
  await request.confirm?.(plan);
  if (request.signal?.aborted) throw interrupted(request.signal);

  const options = { noOwner: request.noOwner, signal: request.signal, like: plan.liveFacts };
  if (!plan.swap) {
    const result = await restoreInto(config, log, backup, plan.target, { ...options, keepOnMismatch: true });
    return { plan, result, swap: undefined };
  }
  const names = plan.swap;
  // The run lock keeps an upgrade from starting on the live database while it is being
  // replaced; the swap ends the lock's session itself, so the lock is held to the last moment.
  return withAdvisoryLock(targetFor(config, names.live), config, 'restore', async (lockClient) => {
    const lockPid = (await lockClient.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const result = await restoreInto(config, log, backup, names.restored, options);
    if (request.signal?.aborted) {
      await dropDatabase(config, names.restored);
      throw interrupted(request.signal);
    }
    const swap = await log.step(`swap ${names.restored} → ${names.live}`, async (step) => {
      const blocking = await sessionsBeyondReach(config, names.live);
      if (blocking.length) {
        await dropDatabase(config, names.restored);
        throw new UpkitError({
          code: 'restore.sessions_beyond_reach',
          exit: 'refused',
          message: `the swap would have to end sessions of ${names.live} this role may not end: ${blocking.join(', ')}`,
          hint: `ask them to disconnect, or run the restore as a superuser; ${names.restored} was dropped and ${names.live} was not changed`,
        });
      }
      const s = await swapDatabases(config, names, { ownPids: [lockPid] });
      step.detail(`swap window ${s.windowMs} ms, ${plural(s.terminated, 'session')} of ${names.live} ended; the previous ${names.live} is kept as ${names.previous}`);
      return s;
    });
    return { plan, result, swap };
  });
}
