// Where pg_dump runs: a local binary of the server's major or newer (the same major is
// preferred), or, with COMPOSE_FILE set and no local binary fitting, inside the database
// service. Which one and why is said in the output.
import type { Config } from '../config.ts';
import { detectCompose, execInService, type ComposeCli } from '../compose.ts';
import { UpkitError } from '../errors.ts';
import { chooseForServer, clientPackageHint, findBinaries, type PgBinary } from '../pgTools.ts';

export type Dumper =
  | { kind: 'local'; pgDump: PgBinary; pgRestore: PgBinary; why: string }
  | { kind: 'compose'; cli: ComposeCli; composeFile: string; service: string; version: string; major: number; pgRestore: PgBinary | undefined; why: string };

/** The pg_dump and pg_restore programs on this machine (each candidate asked its --version). */
export interface ClientBinaries {
  dumps: PgBinary[];
  restores: PgBinary[];
}

/** Looks for both programs at once: a backup starts this before it connects, since neither needs the server. */
export async function findClientBinaries(config: Pick<Config, 'pgBinDir'>): Promise<ClientBinaries> {
  const [dumps, restores] = await Promise.all([findBinaries('pg_dump', config.pgBinDir), findBinaries('pg_restore', config.pgBinDir)]);
  return { dumps, restores };
}

export async function chooseDumper(config: Pick<Config, 'pgBinDir' | 'composeFile' | 'dbService'>, serverMajor: number, found?: Promise<ClientBinaries>): Promise<Dumper> {
  const { dumps, restores } = await (found ?? findClientBinaries(config));
  const pgDump = chooseForServer(dumps, serverMajor);
  // pg_restore must read what this pg_dump writes: take it from the same directory.
  const pgRestore = pgDump && restores.find((r) => r.binDir === pgDump.binDir);
  if (pgDump && pgRestore) {
    return {
      kind: 'local',
      pgDump,
      pgRestore,
      why: `${pgDump.path} ${pgDump.version} (found via ${pgDump.foundVia}; ${pgDump.major === serverMajor ? 'same major as the server' : `server is ${serverMajor}, no ${serverMajor} client found`})`,
    };
  }
  const seen = dumps.length ? `found only ${[...new Set(dumps.map((b) => `${b.version} at ${b.path}`))].join(', ')}` : 'none found';
  if (config.composeFile) {
    const cli = await detectCompose();
    if (cli) {
      try {
        const out = await execInService(cli, config.composeFile, config.dbService, ['pg_dump', '--version']);
        const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(out);
        const major = Number(m?.[1]);
        if (major >= serverMajor) {
          return {
            kind: 'compose',
            cli,
            composeFile: config.composeFile,
            service: config.dbService,
            version: `${m![1]}${m![2] ? `.${m![2]}` : ''}`,
            major,
            pgRestore: chooseForServer(restores, major),
            why: `pg_dump ${major} inside compose service "${config.dbService}" (no local pg_dump of ${serverMajor} or newer: ${seen})`,
          };
        }
      } catch {
        // fall through to the error that names what to install
      }
    }
  }
  throw new UpkitError({
    code: 'backup.no_pg_dump',
    exit: 'refused',
    message: `no pg_dump of PostgreSQL ${serverMajor} or newer to back up with (${seen}${pgDump && !pgRestore ? `; no pg_restore beside ${pgDump.path}` : ''})`,
    hint: `install one: ${clientPackageHint(serverMajor)}; or set UPKIT_PG_BINDIR to its directory; nothing was changed`,
  });
}
