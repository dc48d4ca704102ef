// Extensions a pending statement creates must be offered by the server (pg_available_extensions):
// the files of an extension are installed with the server, by the operating system's package
// manager, never by SQL. One that is missing is refused before any change, naming the package.
import type { Client } from 'pg';
import type { Problem } from '../plan.ts';
import type { At } from './intents.ts';

const CONTRIB = [
  'adminpack',
  'amcheck',
  'autoinc',
  'bloom',
  'btree_gin',
  'btree_gist',
  'citext',
  'cube',
  'dblink',
  'dict_int',
  'dict_xsyn',
  'earthdistance',
  'file_fdw',
  'fuzzystrmatch',
  'hstore',
  'insert_username',
  'intagg',
  'intarray',
  'isn',
  'lo',
  'ltree',
  'moddatetime',
  'old_snapshot',
  'pageinspect',
  'pg_buffercache',
  'pg_freespacemap',
  'pg_prewarm',
  'pg_stat_statements',
  'pg_surgery',
  'pg_trgm',
  'pg_visibility',
  'pg_walinspect',
  'pgcrypto',
  'pgrowlocks',
  'pgstattuple',
  'postgres_fdw',
  'refint',
  'seg',
  'sslinfo',
  'tablefunc',
  'tcn',
  'tsm_system_rows',
  'tsm_system_time',
  'unaccent',
  'uuid-ossp',
  'xml2',
];

/**
 * The operating-system package that provides an extension, for a server of `major`; null when upkit does not know it.
 */
export function extensionPackage(name: string, major: number): string | null {
  if (CONTRIB.includes(name))
    return (
      `postgresql-contrib (on Debian and Ubuntu part of postgresql-${major}; ` +
      `on Red Hat postgresql${major}-contrib)`
    );
  const known: Record<string, string> = {
    vector: `postgresql-${major}-pgvector`,
    postgis: `postgresql-${major}-postgis-3`,
    postgis_raster: `postgresql-${major}-postgis-3`,
    postgis_topology: `postgresql-${major}-postgis-3`,
    postgis_tiger_geocoder: `postgresql-${major}-postgis-3`,
    address_standardizer: `postgresql-${major}-postgis-3`,
    pgrouting: `postgresql-${major}-pgrouting`,
    timescaledb: `timescaledb-2-postgresql-${major}`,
    pg_cron: `postgresql-${major}-cron`,
    pg_partman: `postgresql-${major}-partman`,
    pgaudit: `postgresql-${major}-pgaudit`,
    hypopg: `postgresql-${major}-hypopg`,
    pg_repack: `postgresql-${major}-repack`,
    orafce: `postgresql-${major}-orafce`,
    pg_hint_plan: `postgresql-${major}-pg-hint-plan`,
    pgtap: `postgresql-${major}-pgtap`,
    h3: `postgresql-${major}-h3`,
    rum: `postgresql-${major}-rum`,
    ip4r: `postgresql-${major}-ip4r`,
    pg_squeeze: `postgresql-${major}-squeeze`,
    plpython3u: `postgresql-plpython3-${major}`,
    plperl: `postgresql-plperl-${major}`,
  };
  return known[name] ?? null;
}

export async function extensionProblems(
  client: Pick<Client, 'query'>,
  wanted: ReadonlyArray<{ name: string; at: At }>,
): Promise<Problem[]> {
  if (wanted.length === 0) return [];
  const names = [...new Set(wanted.map((w) => w.name))];
  const { rows } = await client.query<{ name: string; offered: boolean; major: number }>(
    `select n.name, exists (select 1 from pg_available_extensions a where a.name = n.name) as offered,
            current_setting('server_version_num')::int / 10000 as major
       from unnest($1::text[]) as n(name)`,
    [names],
  );
  return rows
    .filter((r) => !r.offered)
    .map((r) => {
      const at = wanted.find((w) => w.name === r.name)!.at;
      const pkg = extensionPackage(r.name, r.major);
      return {
        code: 'check.extension_missing',
        message:
          `${at.file}:${at.line} creates extension "${r.name}", which this PostgreSQL ` +
          `${r.major} server does not offer (it is not in pg_available_extensions)`,
        hint: pkg
          ? `install ${pkg} on the database server (its files come with that package, ` +
            `not with SQL), then run the upgrade again; nothing was changed`
          : `install the package that provides extension "${r.name}" on the ` +
            `database server, then run the upgrade again; nothing was changed`,
      };
    });
}
