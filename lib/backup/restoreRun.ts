// The whole restore an operator asks for: check the backup, look at the server, confirm,
// then either restore into a new database beside the live one (--into), or restore into a
// temporary database, check it, and swap names with the live one, which is kept.
import { randomUUID } from 'node:crypto';
import { VERSION } from '../version.ts';
import type { Config } from '../config.ts';
import { connect, lockApplicationName, LOCK_KEY, withAdvisoryLock, withClient } from '../db.ts';
import { isUpkitError, UpkitError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { detectInstall } from '../profile.ts';
import type { Profile } from '../profileTypes.ts';
import { interrupted, restoreInto, type RestoreResult } from './restore.ts';
import { checkBackup, type CheckedBackup } from './restoreCheck.ts';
import {
  databaseExists,
  dropDatabase,
  freeName,
  mayActAs,
  readDatabaseFacts,
  targetFor,
  withMaintenanceClient,
  type DatabaseFacts,
} from './restoreDb.ts';
import { formatBytes } from './space.ts';
import { shellQuote, sqlIdent } from '../quote.ts';
import { holdExit, untilDone } from './cleanup.ts';
import {
  finishRestore,
  newMarker,
  readRestoreState,
  recordRestore,
  recoverInterruptedRestore,
  refusingError,
  serverIdentifier,
  writeMarker,
} from './leftovers.ts';
import { assertRoom, preparedTransactions, replication, roomForCopy, type RoomCheck } from './restorePrecheck.ts';
import { sessionsBeyondReach, swapDatabases, type SwapNames, type SwapResult } from './swap.ts';
import { plural } from '../plural.ts';

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
  /** Room for the copy beside the live database, when the live one exists. */
  room: RoomCheck | undefined;
  /** The server's system identifier (marks the copy as this server's). */
  serverId: string | null;
}

export interface RestoreRequest {
  /**
   * Whose release the live database is said to be at (the commands choose it); without, the newest applied entry of
   * config.drizzleDir.
   */
  profile?: Profile;
  file: string;
  into?: string;
  noOwner?: boolean;
  signal?: AbortSignal;
  /** In place, a backup of another database (manifest.database) replaces the live one only with this. */
  fromOtherDatabase?: boolean;
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

function refuse(code: string, message: string, hint: string): UpkitError {
  return new UpkitError({ code, exit: 'refused', message, hint: `${hint}; nothing was changed` });
}

async function planRestore(config: Config, backup: CheckedBackup, request: RestoreRequest): Promise<RestorePlan> {
  const live = config.migrationDb.database;
  const at = request.now ?? new Date();
  const plan = await withMaintenanceClient(config, async (c) => {
    const { rows } = await c.query<{ user: string; superuser: boolean; createdb: boolean }>(
      'select current_user as user, rolsuper as superuser, ' +
        'rolcreatedb as createdb from pg_roles where rolname = current_user',
    );
    const me = rows[0]!;
    if (!me.superuser && !me.createdb) {
      throw refuse(
        'restore.no_createdb',
        `role "${me.user}" cannot create databases, and a restore always restores into a new one`,
        `as an administrator, run: ALTER ROLE ${sqlIdent(me.user)} CREATEDB; then run the restore again`,
      );
    }
    const liveFacts = await readDatabaseFacts(c, live);
    const ownsLive = liveFacts !== undefined && (await mayActAs(c, liveFacts.owner));
    if (request.into !== undefined) {
      if (await databaseExists(c, request.into))
        throw refuse(
          'restore.target_exists',
          `database ${request.into} already exists`,
          'choose a new name with --into NAME, or drop that database first',
        );
      const room = liveFacts ? await roomForCopy(c, config, live, liveFacts.tablespace) : undefined;
      if (room) assertRoom(room, live);
      return { target: request.into, swap: undefined, liveFacts: ownsLive ? liveFacts : undefined, room, server: null };
    }
    if (liveFacts && request.into === undefined) {
      const state = await readRestoreState(c, live);
      if (state.liveAllowsConnections === false) throw refusingError(config, state);
    }
    if (!liveFacts) {
      throw refuse(
        'restore.no_live',
        `database ${live} does not exist, so there is nothing to restore in place`,
        `to restore it under that name, run: npx zx scripts/restore.ts ` +
          `${shellQuote(backup.path)} --into ${shellQuote(live)}`,
      );
    }
    if (!ownsLive) {
      throw refuse(
        'restore.not_owner',
        `role "${me.user}" does not own database ${live} (owner: ${liveFacts.owner}), so it cannot swap it`,
        `run the restore as ${liveFacts.owner} or a superuser, or restore beside it with --into NAME`,
      );
    }
    if (backup.manifest.database !== live && !request.fromOtherDatabase) {
      throw refuse(
        'restore.other_database',
        `this backup was taken from database ${backup.manifest.database}, ` +
          `not ${live}: in place, it would replace ${live} with another database's data`,
        `if that is what you want, add --from-other-database; to look at it first, restore it beside with --into NAME`,
      );
    }
    await preparedTransactions(c, config, live);
    await replication(c, live);
    const beyond = await sessionsBeyondReach(config, live);
    if (beyond.length)
      throw refuse(
        'restore.sessions_beyond_reach',
        `the swap would have to end sessions of ${live} this role may not end: ${beyond.join(', ')}`,
        'ask them to disconnect, or run the restore as a superuser',
      );
    const room = await roomForCopy(c, config, live, liveFacts.tablespace);
    assertRoom(room, live);
    const restored = await freeName(c, live, 'restore', at);
    const previous = await freeName(c, live, 'before_restore', at, [restored]);
    return { target: restored, swap: { live, restored, previous }, liveFacts, room, server: await serverIdentifier(c) };
  });
  let liveRelease: string | null = null;
  if (plan.liveFacts) {
    liveRelease = await withClient(
      config.migrationDb,
      config,
      async (c) => (await detectInstall(c, request.profile ?? { drizzleDir: config.drizzleDir })).release,
      { applicationName: 'upkit restore' },
    ).catch(() => null);
  }
  const { server: serverId, ...rest } = plan;
  return {
    backup,
    live,
    server: `${config.migrationDb.host}:${config.migrationDb.port}`,
    ...rest,
    serverId,
    liveRelease,
  };
}

export async function restoreBackup(config: Config, log: Logger, request: RestoreRequest): Promise<RestoreOutcome> {
  // The archive is proven (size, sha256, pg_restore --list) before anything is created, the
  // empty database beside the live one included: a damaged archive is refused with the
  // server as it was (no database to drop, none left by a kill -9 in between), and the
  // operator confirms before any write. Creating it during the proof would save only its
  // CREATE DATABASE (about 50 ms against seconds of pg_restore).
  const backup = await log.step('check backup', async (step) => {
    const b = await checkBackup(config, request.file);
    const m = b.manifest;
    step.detail(
      `${formatBytes(m.bytes)}, sha256 and size as in its manifest, pg_restore --list read ` +
        `${plural(b.tocEntries, 'entry')}; taken ${m.createdAt} from ${m.database} at release ${m.release ?? 'none'}`,
    );
    return b;
  });
  request.onChecked?.(backup);
  const plan = await log.step(`check ${config.migrationDb.host}:${config.migrationDb.port}`, async (step) => {
    const p = await planRestore(config, backup, request);
    step.detail(
      p.swap
        ? `${p.live} will be swapped with ${p.swap.restored}, and kept as ${p.swap.previous}`
        : `${p.target} is free; ${p.live} is not touched`,
    );
    return p;
  });
  if (plan.room && typeof plan.room.free === 'string')
    log.warn(
      `free space for the copy beside ${plan.live} cannot be known here (${plan.room.free}); ` +
        `it needs about ${formatBytes(plan.room.needed ?? 0)} in ${plan.room.where}`,
    );
  await request.confirm?.(plan);
  if (request.signal?.aborted) throw interrupted(request.signal);

  const options = { noOwner: request.noOwner, signal: request.signal, like: plan.liveFacts };
  if (!plan.swap) {
    const result = await restoreInto(config, log, backup, plan.target, { ...options, keepOnMismatch: true });
    return { plan, result, swap: undefined };
  }
  const names = plan.swap;
  const marker = newMarker(names.live, plan.serverId, backup.path);
  const runId = randomUUID();
  // The run lock keeps an upgrade from starting on the live database while it is being
  // replaced; the swap ends the lock's session itself, so the lock is held to the last
  // moment, and taken again between attempts.
  const relocks: Array<{ end(): Promise<void> }> = [];
  try {
    return await withAdvisoryLock(targetFor(config, names.live), config, 'restore', async (lockClient) => {
      const lockPid = (await lockClient.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      // Copies of restores that were stopped, proven upkit's for this
      // server and database: no restore runs now but this one.
      await recoverInterruptedRestore(config, log);
      const recorded = await recordRestore(lockClient, {
        id: runId,
        copy: names.restored,
        marker,
        releaseFrom: plan.liveRelease,
        releaseTo: backup.manifest.release,
        toolVersion: VERSION,
      });
      // From the copy's creation to the swap's end, a second Ctrl-C waits for the cleanup.
      const release = holdExit();
      let status = 'failed';
      try {
        const outcome = await restoreAndSwap(lockPid, release);
        status = 'ok';
        return outcome;
      } catch (err) {
        status = request.signal?.aborted
          ? 'interrupted'
          : isUpkitError(err) && (err.exit === 'refused' || err.exit === 'locked')
            ? 'refused'
            : 'failed';
        throw err;
      } finally {
        // After the swap the row is in the database kept beside the restored one.
        if (recorded)
          await untilDone(finishRestore(config, status === 'ok' ? names.previous : names.live, runId, status));
        release();
      }
    });
  } finally {
    for (const c of relocks) await c.end().catch(() => {});
  }

  async function restoreAndSwap(lockPid: number, release: () => void): Promise<RestoreOutcome> {
    const result = await restoreInto(config, log, backup, names.restored, { ...options, marker });
    if (request.signal?.aborted) {
      await untilDone(dropDatabase(config, names.restored));
      throw interrupted(request.signal);
    }
    const swap = await log.step(`swap ${names.restored} → ${names.live}`, async (step) => {
      try {
        const blocking = await sessionsBeyondReach(config, names.live);
        if (blocking.length) {
          throw new UpkitError({
            code: 'restore.sessions_beyond_reach',
            exit: 'refused',
            message:
              `the swap would have to end sessions of ${names.live}` + ` this role may not end: ${blocking.join(', ')}`,
            hint:
              `ask them to disconnect, or run the restore as a superuser; ` +
              `${names.restored} was dropped and ${names.live} was not changed`,
          });
        }
        const s = await swapDatabases(config, names, {
          ownPids: [lockPid],
          log,
          signal: request.signal,
          beforeAttempt: () =>
            withMaintenanceClient(config, (c) => writeMarker(c, names.restored, { ...marker, stage: 'swap' })),
          relock: async () => {
            const c = await connect(targetFor(config, names.live), config, {
              applicationName: lockApplicationName('restore'),
            });
            relocks.push(c);
            const { rows } = await c.query<{ locked: boolean; pid: number }>(
              'select pg_try_advisory_lock($1::int, $2::int) as locked, pg_backend_pid() as pid',
              [LOCK_KEY.classId, LOCK_KEY.objId],
            );
            if (!rows[0]!.locked)
              throw new UpkitError({
                code: 'lock.held',
                exit: 'locked',
                message: `another upkit run took the lock on ${names.live} between two attempts of the swap`,
                hint:
                  `wait for it to finish (npx zx scripts/status.ts shows it), ` +
                  `then run the restore again; ${names.live} was not changed`,
              });
            return rows[0]!.pid;
          },
        });
        step.detail(
          `swap window ${s.windowMs} ms${s.attempts > 1 ? ` (attempt ${s.attempts})` : ''}, ` +
            `${plural(s.terminated, 'session')} of ${names.live} ended; ` +
            `the previous ${names.live} is kept as ${names.previous}`,
        );
        return s;
      } catch (err) {
        if (!isUpkitError(err) || (err.exit !== 'refused' && err.exit !== 'locked')) throw err;
        // Nothing was renamed: the copy goes, as after any refusal.
        const dropped = await untilDone(dropDatabase(config, names.restored)).then(
          () => true,
          () => false,
        );
        const outcome = dropped
          ? `${names.restored} was dropped and ${names.live} was not changed`
          : `${names.live} was not changed; drop ${names.restored} by hand`;
        if (err.hint?.includes(`${names.live} was not changed`)) throw err;
        throw new UpkitError({
          code: err.code,
          exit: err.exit,
          message: err.message,
          details: err.details,
          hint: `${err.hint ? `${err.hint}; ` : ''}${outcome}`,
          cause: err.cause,
        });
      }
    });
    release();
    return { plan, result, swap };
  }
}
