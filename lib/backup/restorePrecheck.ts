// What an in-place restore can know before it creates anything, read-only: what would keep
// its swap from renaming the live database (prepared transactions, logical replication,
// sessions this role may not end), and whether the copy beside the live one fits in its
// tablespace. Each is a refusal (exit 3) while nothing has been touched.
import { existsSync, readdirSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';
import type { Config } from '../config.ts';
import { UpkitError } from '../errors.ts';
import { sqlLiteral } from '../quote.ts';
import { formatBytes } from './space.ts';
import { psqlCommand } from './swap.ts';
import { plural } from '../plural.ts';

type Q = Pick<Client, 'query'>;

function refuse(code: string, message: string, hint: string): UpkitError {
  return new UpkitError({ code, exit: 'refused', message, hint: `${hint}; nothing was changed` });
}

/** Prepared transactions of the live database: RENAME refuses a database that has any, for as long as they last. */
export async function preparedTransactions(c: Q, config: Pick<Config, 'migrationDb'>, live: string): Promise<void> {
  const { rows } = await c.query<{ gid: string; owner: string; prepared: Date }>(
    'select gid, owner, prepared from pg_prepared_xacts where database = $1 order by prepared',
    [live],
  );
  if (!rows.length) return;
  const first = rows[0]!;
  throw refuse(
    'restore.prepared_transactions',
    `database ${live} has ${plural(rows.length, 'prepared transaction')}` +
      ` (${rows.map((r) => `'${r.gid}' of ${r.owner}, prepared ${r.prepared.toISOString()}`).join('; ')}` +
      `): the swap cannot rename it while they last`,
    `have their owner finish them, or roll them back: ` +
      `${psqlCommand(config.migrationDb, [`ROLLBACK PREPARED ${sqlLiteral(first.gid)}`], live)}` +
      `; then run the restore again`,
  );
}

/**
 * Logical replication bound to the live database follows the database object, not its name: after a swap it would serve
 * the old copy.
 */
export async function replication(c: Q, live: string): Promise<void> {
  const { rows } = await c.query<{ what: string }>(
    `select format('replication slot %s', slot_name) as what from pg_replication_slots where database = $1
     union all
     select format('subscription %s', s.subname) from pg_subscription ` +
      `s join pg_database d on d.oid = s.subdbid where d.datname = $1
     order by 1`,
    [live],
  );
  if (!rows.length) return;
  throw refuse(
    'restore.replication',
    `database ${live} has logical replication bound to it (${rows.map((r) => r.what).join(', ')}` +
      `): after a swap it would follow the old database, kept under another name`,
    'restore beside it with --into NAME and move the replication yourself, or drop the slot or subscription first',
  );
}

export interface RoomCheck {
  /** What the copy needs (the live database's size), or undefined when there is none to measure. */
  needed: number | undefined;
  /** Free bytes where the copy goes, or why that cannot be known here. */
  free: number | string;
  where: string;
}

function isLocal(host: string): boolean {
  return host.startsWith('/') || host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * Free space of the tablespace the copy is created in, read from this machine when the
 * server runs on it (a socket or loopback host, and the directory is the server's own:
 * PG_VERSION in its data directory, or the tablespace's PG_<major>_ folder).
 */
export async function roomForCopy(
  c: Q,
  config: Pick<Config, 'migrationDb'>,
  live: string,
  tablespace: string,
): Promise<RoomCheck> {
  const { rows } = await c.query<{ size: string | null; location: string | null; major: string }>(
    `select (select pg_database_size(datname) from pg_database where datname = $1)::text as size,
            (select nullif(pg_tablespace_location(oid), '') from pg_tablespace where spcname = $2) as location,
            current_setting('server_version_num')::int / 10000 as major`,
    [live, tablespace],
  );
  const r = rows[0]!;
  const needed = r.size === null ? undefined : Number(r.size);
  let dir = r.location;
  if (dir === null) {
    dir = await c.query<{ d: string }>(`select current_setting('data_directory') as d`).then(
      (x) => x.rows[0]!.d,
      () => null,
    );
  }
  if (dir === null)
    return {
      needed,
      free: 'this role may not read where the server keeps its data',
      where: `tablespace ${tablespace}`,
    };
  const where = `tablespace ${tablespace} (${dir})`;
  if (!isLocal(config.migrationDb.host))
    return { needed, free: `the server runs on ${config.migrationDb.host}, not here`, where };
  const own =
    r.location === null
      ? existsSync(path.join(dir, 'PG_VERSION'))
      : existsSync(dir) && readdirSync(dir).some((f) => f.startsWith(`PG_${r.major}_`));
  if (!own) return { needed, free: `${dir} is not the server's on this machine (a container?)`, where };
  const fs = statfsSync(dir);
  return { needed, free: fs.bavail * fs.bsize, where };
}

export function assertRoom(room: RoomCheck, live: string): void {
  if (room.needed === undefined || typeof room.free === 'string' || room.free >= room.needed) return;
  throw refuse(
    'restore.disk_space',
    `only ${formatBytes(room.free)} free in ${room.where}; the copy restored ` +
      `beside ${live} needs about ${formatBytes(room.needed)} (the size of ${live})`,
    `free some space there, or restore into another server`,
  );
}
