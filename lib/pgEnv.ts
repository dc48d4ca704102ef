// The environment for PostgreSQL's own programs (pg_dump, pg_restore, psql): connection
// settings go through libpq's variables, so that no password (and no connection string
// holding one) ever appears in a process's arguments.
import type { Config, DbTarget } from './config.ts';
import { TARGET_SCHEMA } from './config.ts';
import { targetOptions } from './pgOptions.ts';

export function libpqEnv(
  target: DbTarget,
  config: Pick<Config, 'ssl' | 'sslCa' | 'connectTimeoutMs'>,
  database = target.database,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Whatever the caller's shell had must not leak into (or override) these settings: any
  // libpq variable (PGHOSTADDR would send the program to another server, PGOPTIONS would
  // set another search_path, PGSERVICE another database).
  for (const key of Object.keys(env)) if (/^PG[A-Z]/.test(key)) delete env[key];
  Object.assign(env, {
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGUSER: target.user,
    PGDATABASE: database,
    PGCONNECT_TIMEOUT: String(Math.max(1, Math.ceil(config.connectTimeoutMs / 1000))),
    PGAPPNAME: 'upkit',
    PGSSLMODE: config.ssl === 'verify-full' ? 'verify-full' : config.ssl === 'false' ? 'disable' : 'require',
    // A socket directory goes in PGHOST as it is; search_path is pinned as for every session.
    PGOPTIONS: targetOptions(target, TARGET_SCHEMA),
  });
  delete env.DATABASE_URL;
  delete env.DIRECT_URL;
  if (target.password !== undefined) env.PGPASSWORD = target.password;
  if (config.sslCa) env.PGSSLROOTCERT = config.sslCa;
  return env;
}
