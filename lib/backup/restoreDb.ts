// The databases a restore creates, copies from and drops, handled from the maintenance
// database: a database cannot be created like, renamed or dropped from inside itself.
import type { Client } from 'pg';
import type { Config, DbTarget } from '../config.ts';
import { withClient } from '../db.ts';
import { isUpkitError } from '../errors.ts';

type ConnSettings = Pick<Config, 'migrationDb' | 'ssl' | 'sslCa' | 'connectTimeoutMs'>;

export const MAINTENANCE_DATABASES = ['postgres', 'template1'] as const;
const NAME_BYTES = 63;

export function targetFor(config: Pick<Config, 'migrationDb'>, database: string): DbTarget {
  return { ...config.migrationDb, database };
}

/** A session on `postgres` (or `template1` where an administrator removed it). */
export async function withMaintenanceClient<T>(config: ConnSettings, fn: (client: Client) => Promise<T>): Promise<T> {
  for (const database of MAINTENANCE_DATABASES) {
    try {
      return await withClient(targetFor(config, database), config, fn, { applicationName: 'upkit restore' });
    } catch (err) {
      if (!(isUpkitError(err) && err.code === 'db.missing' && database !== MAINTENANCE_DATABASES.at(-1))) throw err;
    }
  }
  throw new Error('unreachable');
}

export function ident(client: Pick<Client, 'escapeIdentifier'>, name: string): string {
  return client.escapeIdentifier(name);
}

/** `<db>_<kind>_<UTC stamp>` within PostgreSQL's 63 bytes; lower case, so it needs no quotes in psql. */
export function companionName(
  database: string,
  kind: 'restore' | 'before_restore' | 'rehearsal' | 'shadow',
  at: Date,
  attempt = 1,
): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'z')
    .toLowerCase();
  const suffix = `_${kind}_${stamp}${attempt > 1 ? `_${attempt}` : ''}`;
  let head = '';
  for (const ch of database) {
    if (Buffer.byteLength(head + ch) + suffix.length > NAME_BYTES) break;
    head += ch;
  }
  return head + suffix;
}

export async function databaseExists(client: Pick<Client, 'query'>, name: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/** The first companion name not taken yet. */
export async function freeName(
  client: Pick<Client, 'query'>,
  database: string,
  kind: Parameters<typeof companionName>[1],
  at: Date,
  taken: readonly string[] = [],
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const name = companionName(database, kind, at, attempt);
    if (!taken.includes(name) && !(await databaseExists(client, name))) return name;
  }
}

/** Whether the current role may create a database owned by `role`, or rename one it owns. */
export async function mayActAs(client: Pick<Client, 'query'>, role: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `select rolsuper or pg_has_role(current_user, $1, 'MEMBER') as ok from pg_roles where rolname = current_user`,
    [role],
  );
  return rows[0]?.ok === true;
}

export interface AclEntry {
  /** null: PUBLIC. */
  grantee: string | null;
  privilege: string;
  grantable: boolean;
}

export interface DatabaseFacts {
  name: string;
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
  /** pg_database's locale provider (PostgreSQL 15+): c libc, i icu, b builtin. */
  provider: string | undefined;
  locale: string | undefined;
  icuRules: string | undefined;
  tablespace: string;
  connectionLimit: number;
  /** null: the default privileges (datacl is NULL). */
  acl: AclEntry[] | null;
  /** pg_db_role_setting of the database: role null applies to every role. */
  settings: Array<{ role: string | null; config: string[] }>;
}

export async function readDatabaseFacts(
  client: Pick<Client, 'query'>,
  name: string,
): Promise<DatabaseFacts | undefined> {
  // to_jsonb(d): the locale columns differ between majors (daticulocale 15-16, datlocale 17+).
  const { rows } = await client.query<{
    d: Record<string, unknown>;
    owner: string;
    encoding: string;
    tablespace: string;
    acl: AclEntry[] | null;
  }>(
    `select to_jsonb(d) - 'datacl' as d, pg_get_userbyid(d.datdba) ` +
      `as owner, pg_encoding_to_char(d.encoding) as encoding,
            t.spcname as tablespace,
            case when d.datacl is null then null else
              (select coalesce(jsonb_agg(jsonb_build_object('grantee', ` +
      `r.rolname, 'privilege', a.privilege_type, 'grantable', a.is_grantable)
                                         order by r.rolname nulls first, a.privilege_type), '[]'::jsonb)
                 from aclexplode(d.datacl) a left join pg_roles r on r.oid = a.grantee) end as acl
       from pg_database d join pg_tablespace t on t.oid = d.dattablespace
      where d.datname = $1`,
    [name],
  );
  const r = rows[0];
  if (!r) return undefined;
  const { rows: settings } = await client.query<{ role: string | null; config: string[] }>(
    `select r.rolname as role, s.setconfig as config
       from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase left join pg_roles r on r.oid = s.setrole
      where d.datname = $1 order by r.rolname nulls first`,
    [name],
  );
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    name,
    owner: r.owner,
    encoding: r.encoding,
    collate: String(r.d.datcollate),
    ctype: String(r.d.datctype),
    provider: str(r.d.datlocprovider),
    locale: str(r.d.datlocale) ?? str(r.d.daticulocale),
    icuRules: str(r.d.daticurules),
    tablespace: r.tablespace,
    connectionLimit: Number(r.d.datconnlimit),
    acl: r.acl,
    settings,
  };
}

/**
 * An empty database (from template0, as pg_restore wants) with the owner, encoding and
 * locale of `like`. Its connection limit is given with the settings, after pg_restore,
 * whose parallel jobs and the restore's own sessions could exceed a small one.
 */
export async function createDatabaseLike(client: Client, name: string, like: DatabaseFacts | undefined): Promise<void> {
  const parts = [`create database ${ident(client, name)} template template0`];
  if (like) {
    const lit = (v: string) => client.escapeLiteral(v);
    parts.push(
      `owner ${ident(client, like.owner)} encoding ${lit(like.encoding)}` +
        ` lc_collate ${lit(like.collate)} lc_ctype ${lit(like.ctype)}`,
    );
    if (like.provider === 'i')
      parts.push(
        `locale_provider icu icu_locale ${lit(like.locale ?? '')}` +
          `${like.icuRules ? ` icu_rules ${lit(like.icuRules)}` : ''}`,
      );
    else if (like.provider === 'b') parts.push(`locale_provider builtin builtin_locale ${lit(like.locale ?? '')}`);
    else if (like.provider === 'c') parts.push('locale_provider libc');
    if (like.tablespace !== 'pg_default') parts.push(`tablespace ${ident(client, like.tablespace)}`);
  }
  await client.query(parts.join(' '));
}

export async function dropDatabase(config: ConnSettings, name: string): Promise<void> {
  // FORCE: a pg_restore that was killed may not have left its session yet.
  await withMaintenanceClient(config, (c) => c.query(`drop database if exists ${ident(c, name)} with (force)`));
}

// As pg_dumpall does (dumputils.c): these settings hold lists whose stored form quotes
// each element, so they are split and given back element by element.
const LIST_SETTINGS = new Set([
  'local_preload_libraries',
  'search_path',
  'session_preload_libraries',
  'shared_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories',
]);

/** Splits a stored list setting (`"$user", public`) into its elements (`$user`, `public`). */
export function splitSettingList(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= value.length) {
    while (value[i] === ' ') i++;
    let item = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length && !(value[i] === '"' && value[i + 1] !== '"')) {
        item += value[i];
        i += value[i] === '"' ? 2 : 1;
      }
      i++;
    } else {
      while (i < value.length && value[i] !== ',') item += value[i++];
      item = item.trim();
    }
    out.push(item);
    while (value[i] === ' ') i++;
    if (value[i] !== ',') break;
    i++;
  }
  return out;
}

export function settingStatement(
  client: Pick<Client, 'escapeIdentifier' | 'escapeLiteral'>,
  database: string,
  role: string | null,
  entry: string,
): string {
  const eq = entry.indexOf('=');
  const name = entry.slice(0, eq);
  const value = entry.slice(eq + 1);
  const values = LIST_SETTINGS.has(name.toLowerCase()) ? splitSettingList(value) : [value];
  const target =
    role === null
      ? `database ${ident(client, database)}`
      : `role ${ident(client, role)} in database ${ident(client, database)}`;
  return `alter ${target} set ${ident(client, name)} to ${values.map((v) => client.escapeLiteral(v)).join(', ')}`;
}

const aclKey = (a: AclEntry) => `${a.grantee ?? 'PUBLIC'} ${a.privilege}${a.grantable ? ' with grant option' : ''}`;

/**
 * Gives `to` the connection limit, the per-database settings and the database-level grants
 * of `from` (its owner and locale were given when it was created), then reads them back: a
 * copy whose grants differ from the live database's must never take its place.
 */
export async function copySettingsAndGrants(
  client: Client,
  from: DatabaseFacts,
  to: string,
): Promise<{ settings: number; grants: number }> {
  let settings = 0;
  if (from.connectionLimit !== -1)
    await client.query(`alter database ${ident(client, to)} connection limit ${from.connectionLimit}`);
  for (const { role, config } of from.settings) {
    for (const entry of config) {
      await client.query(settingStatement(client, to, role, entry));
      settings++;
    }
  }
  if (from.acl) {
    const db = ident(client, to);
    // A NULL datacl means the defaults; an explicit one starts from nothing, as in the live database.
    await client.query(`revoke all on database ${db} from public`);
    await client.query(`revoke all on database ${db} from ${ident(client, from.owner)}`);
    for (const a of from.acl) {
      const grantee = a.grantee === null ? 'public' : ident(client, a.grantee);
      await client.query(
        `grant ${a.privilege} on database ${db} to ${grantee}${a.grantable ? ' with grant option' : ''}`,
      );
    }
  }
  const copied = await readDatabaseFacts(client, to);
  const want = { settings: JSON.stringify(from.settings), acl: (from.acl ?? []).map(aclKey).sort() };
  const got = { settings: JSON.stringify(copied?.settings), acl: (copied?.acl ?? []).map(aclKey).sort() };
  if (
    want.settings !== got.settings ||
    JSON.stringify(want.acl) !== JSON.stringify(got.acl) ||
    (from.acl === null) !== (copied?.acl === null) ||
    copied?.connectionLimit !== from.connectionLimit
  ) {
    throw new Error(
      `the settings, grants or connection limit of ${to} differ from those of ${from.name} ` +
        `after copying them (${JSON.stringify({ ...got, connectionLimit: copied?.connectionLimit })}` +
        ` instead of ${JSON.stringify({ ...want, connectionLimit: from.connectionLimit })})`,
    );
  }
  return { settings, grants: from.acl?.length ?? 0 };
}
