// A rehearsal: the backup just taken is restored into a scratch database on the same
// server, checked against its manifest like any restore, and handed to the caller (the
// engine upgrades it there first). The scratch database is always dropped afterwards:
// when fn succeeds, throws, or the run is interrupted.
import type { Config, DbTarget } from './config.ts';
import type { BackupManifest } from './backup/manifest.ts';
import { interrupted, restoreInto } from './backup/restore.ts';
import { checkBackup } from './backup/restoreCheck.ts';
import { dropDatabase, freeName, mayActAs, readDatabaseFacts, targetFor, withMaintenanceClient } from './backup/restoreDb.ts';
import { psqlCommand, sqlIdent } from './backup/swap.ts';
import { UpkitError } from './errors.ts';
import type { Logger } from './log.ts';
import type { Client } from 'pg';

export interface RehearsalOptions {
  /** Aborting stops the restore, stops waiting for fn, and drops the scratch database. */
  signal?: AbortSignal;
  noOwner?: boolean;
  now?: Date;
}

export interface Rehearsal<T> {
  result: T;
  /** Check, restore and fn (the drop comes after). */
  durationMs: number;
  /** The scratch database's name (gone by the time this is returned). */
  database: string;
  /** pg_restore's share of it. */
  restoreMs: number;
}

/** fn's outcome, or the interruption as soon as the signal fires (fn's sessions end when the database is dropped). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(interrupted(signal));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A rehearsal restores into a database of its own: a role that may not create one is refused
 * before the backup is taken and before anything is recorded (checked on any connection).
 */
export async function assertMayRehearse(client: Pick<Client, 'query'>, config: Config): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>(`select rolcreatedb or rolsuper as ok from pg_roles where rolname = current_user`);
  if (rows[0]?.ok === true) return;
  const user = config.migrationDb.user;
  throw new UpkitError({
    code: 'rehearse.createdb',
    exit: 'refused',
    message: `--rehearse restores the backup into a scratch database, and role "${user}" may not create databases (no CREATEDB); nothing was changed, no backup was taken`,
    hint: `have an administrator run: ALTER ROLE ${sqlIdent(user)} CREATEDB; then run npx zx upgrade.ts --rehearse again (or run it without --rehearse)`,
  });
}

export async function withRehearsal<T>(
  config: Config,
  log: Logger,
  backup: { path: string; manifest: BackupManifest },
  fn: (scratch: DbTarget) => Promise<T>,
  options: RehearsalOptions = {},
): Promise<Rehearsal<T>> {
  const started = performance.now();
  const live = config.migrationDb.database;
  const checked = await log.step('rehearsal: check backup', async (step) => {
    const b = await checkBackup(config, backup.path, backup.manifest);
    step.detail(`${b.tocEntries} entries, sha256 as in the manifest`);
    return b;
  });
  const { database, like } = await withMaintenanceClient(config, async (c) => {
    const facts = await readDatabaseFacts(c, live);
    return { database: await freeName(c, live, 'rehearsal', options.now ?? new Date()), like: facts && (await mayActAs(c, facts.owner)) ? facts : undefined };
  });
  try {
    const restored = await restoreInto(config, log, checked, database, { like, signal: options.signal, noOwner: options.noOwner, label: 'rehearsal: ' });
    const result = await untilAborted(Promise.resolve().then(() => fn(targetFor(config, database))), options.signal);
    return { result, durationMs: Math.round(performance.now() - started), database, restoreMs: restored.restoreMs };
  } finally {
    await log.step(`rehearsal: drop ${database}`, () => dropDatabase(config, database)).catch((err: unknown) => {
      log.warn(`the scratch database ${database} could not be dropped (${err instanceof Error ? err.message : String(err)}); drop it by hand: ${psqlCommand(config.migrationDb, [`DROP DATABASE IF EXISTS ${sqlIdent(database)} WITH (FORCE)`])}`);
    });
  }
}
