// The environment for PostgreSQL's own programs (pg_dump, pg_restore, psql): connection
// settings go through libpq's variables, so that no password (and no connection string
// holding one) ever appears in a process's arguments.
import type { Config, DbTarget } from './config.ts';

export function libpqEnv(target: DbTarget, config: Pick<Config, 'ssl' | 'sslCa' | 'connectTimeoutMs'>, database = target.database): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGUSER: target.user,
    PGDATABASE: database,
    PGCONNECT_TIMEOUT: String(Math.max(1, Math.ceil(config.connectTimeoutMs / 1000))),
    PGAPPNAME: 'upkit',
    PGSSLMODE: config.ssl === 'verify-full' ? 'verify-full' : config.ssl === 'false' ? 'disable' : 'require',
  };
  // Whatever the caller's shell had must not leak into (or override) these settings.
  delete env.PGPASSWORD;
  delete env.PGSERVICE;
  delete env.PGPASSFILE;
  delete env.DATABASE_URL;
  delete env.DIRECT_URL;
  if (target.password !== undefined) env.PGPASSWORD = target.password;
  if (config.sslCa) env.PGSSLROOTCERT = config.sslCa;
  return env;
}
