// UPKIT_TEST_HIDE_SYSTEM_PG: try the harness and the demo as on a machine without PostgreSQL
// (a laptop, a fresh CI image) on one that has it.
//   all (or 1): no server programs (initdb, pg_ctl) and no client programs (pg_dump, pg_restore)
//   server:     no server programs; the client programs stay (a machine with only the client)
// The server programs are hidden from the harness's search (discover.ts); the client programs
// from upkit through UPKIT_PG_BINDIR, its own setting for where they are, pointed at an empty
// directory: upkit then finds no pg_dump, as on that machine.
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HIDE_SYSTEM_PG_ENV = 'UPKIT_TEST_HIDE_SYSTEM_PG';

export type HiddenPg = 'none' | 'server' | 'all';

const VALUES: Readonly<Record<string, HiddenPg>> = {
  '': 'none',
  '0': 'none',
  '1': 'all',
  all: 'all',
  server: 'server',
};

export function hiddenSystemPg(env: Record<string, string | undefined> = process.env): HiddenPg {
  const raw = env[HIDE_SYSTEM_PG_ENV]?.trim() ?? '';
  const hidden = VALUES[raw];
  if (hidden === undefined) {
    throw new Error(
      `${HIDE_SYSTEM_PG_ENV}=${raw} is not one of 1, all, server, 0; unset it to use this machine's PostgreSQL`,
    );
  }
  return hidden;
}

let emptyBinDir: string | undefined;

/** An empty directory, for UPKIT_PG_BINDIR, while the client programs are hidden; else undefined. */
export function hiddenClientBinDir(env: Record<string, string | undefined> = process.env): string | undefined {
  if (hiddenSystemPg(env) !== 'all') return undefined;
  if (emptyBinDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'upkit-no-pg-bin-'));
    emptyBinDir = dir;
    process.once('exit', () => {
      try {
        rmdirSync(dir);
      } catch {
        // not empty, or gone: left alone
      }
    });
  }
  return emptyBinDir;
}
