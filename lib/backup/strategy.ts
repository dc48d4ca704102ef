// Where pg_dump runs: a local binary of the server's major or newer (the same major is
// preferred), or, with COMPOSE_FILE set and no local binary fitting, inside the database
// service. Which one and why is said in the output.
import type { Config } from '../config.ts';
import { detectCompose, execInService, type ComposeCli } from '../compose.ts';
import { UpkitError } from '../errors.ts';
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { binaryVersion, candidateBinDirs, chooseForServer, clientPackageHint, type PgBinary } from '../pgTools.ts';

export type Dumper =
  | { kind: 'local'; pgDump: PgBinary; pgRestore: PgBinary; why: string }
  | {
      kind: 'compose';
      cli: ComposeCli;
      composeFile: string;
      service: string;
      version: string;
      major: number;
      pgRestore: PgBinary | undefined;
      why: string;
    };

/** The pg_dump and pg_restore programs on this machine (each candidate asked its --version). */
export interface ClientBinaries {
  dumps: PgBinary[];
  restores: PgBinary[];
}

/**
 * Both programs, as pgTools.ts findBinaries finds each (the same directories in the same
 * order, one entry per real file), with every candidate's --version asked at once rather
 * than one after another: a backup starts this before it connects, since neither needs the
 * server, and pg_dump cannot start before it ends.
 */
export async function findClientBinaries(config: Pick<Config, 'pgBinDir'>): Promise<ClientBinaries> {
  const candidates: Array<{ name: 'pg_dump' | 'pg_restore'; file: string; binDir: string; foundVia: string }> = [];
  const seen = new Set<string>();
  for (const { dir, via } of await candidateBinDirs(config.pgBinDir)) {
    for (const name of ['pg_dump', 'pg_restore'] as const) {
      const file = path.join(dir, name);
      if (!existsSync(file)) continue;
      const real = `${name}\0${realpathSync(file)}`;
      if (seen.has(real)) continue;
      seen.add(real);
      candidates.push({ name, file, binDir: dir, foundVia: via });
    }
  }
  const versions = await Promise.all(candidates.map((c) => binaryVersion(c.file)));
  const out: ClientBinaries = { dumps: [], restores: [] };
  candidates.forEach((c, i) => {
    const version = versions[i];
    if (version)
      (c.name === 'pg_dump' ? out.dumps : out.restores).push({
        path: c.file,
        binDir: c.binDir,
        foundVia: c.foundVia,
        ...version,
      });
  });
  return out;
}

export async function chooseDumper(
  config: Pick<Config, 'pgBinDir' | 'composeFile' | 'dbService'>,
  serverMajor: number,
  found?: Promise<ClientBinaries>,
): Promise<Dumper> {
  const { dumps, restores } = await (found ?? findClientBinaries(config));
  const pgDump = chooseForServer(dumps, serverMajor);
  // pg_restore must read what this pg_dump writes: take it from the same directory.
  const pgRestore = pgDump && restores.find((r) => r.binDir === pgDump.binDir);
  if (pgDump && pgRestore) {
    return {
      kind: 'local',
      pgDump,
      pgRestore,
      why:
        `${pgDump.path} ${pgDump.version} (found via ${pgDump.foundVia}; ` +
        `${
          pgDump.major === serverMajor
            ? 'same major as the server'
            : `server is ${serverMajor}, no ${serverMajor} client found`
        })`,
    };
  }
  const seen = dumps.length
    ? `found only ${[...new Set(dumps.map((b) => `${b.version} at ${b.path}`))].join(', ')}`
    : 'none found';
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
            why:
              `pg_dump ${major} inside compose service "${config.dbService}` +
              `" (no local pg_dump of ${serverMajor} or newer: ${seen})`,
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
    message:
      `no pg_dump of PostgreSQL ${serverMajor} or newer to back up with (${seen}` +
      `${pgDump && !pgRestore ? `; no pg_restore beside ${pgDump.path}` : ''})`,
    hint:
      `install one: ${clientPackageHint(serverMajor)}; ` +
      `or set UPKIT_PG_BINDIR to its directory; nothing was changed`,
  });
}
