// Any drizzle application (--drizzle-dir PATH or UPKIT_DRIZZLE_DIR) as a profile: its
// releases are its journal's tags (the latest is the last entry, a database is at its newest
// applied one), with no legacy era, no seed data and no release probes. Everything else of
// upkit (lock, backup, ledger, lint, lock timeouts, verification) applies as to Pulse.
import path from 'node:path';
import { readMigrations } from '../lib/drizzle/journal.ts';
import type { Profile } from '../lib/profileTypes.ts';

/**
 * `legacyDir`: a legacy folder the operator pointed at, whose ledger verify compares; never applied.
 * `repeatableDir`: the app's repeatable SQL (UPKIT_REPEATABLE_DIR); by default `repeatable/` beside its drizzle folder.
 */
export function appProfile(drizzleDir: string, legacyDir?: string, repeatableDir?: string): Profile {
  let latest: { tag: string | null } | undefined;
  return {
    name: 'app',
    drizzleDir,
    repeatableDir: repeatableDir ?? path.join(path.dirname(path.resolve(drizzleDir)), 'repeatable'),
    ...(legacyDir ? { legacyDir } : {}),
    // Read when first asked, after the engine has read (and reported on) the folder itself.
    get latestRelease() {
      latest ??= { tag: readMigrations(drizzleDir).at(-1)?.tag ?? null };
      return latest.tag;
    },
  };
}
