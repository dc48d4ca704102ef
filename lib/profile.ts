// What upkit knows of the application it serves is its profile (lib/profileTypes.ts): with
// release probes (Pulse's) the release is read from the catalog; without, it is the newest
// drizzle entry in the ledger.
import type { Client } from 'pg';
import { readMigrations } from './drizzle/journal.ts';
import type { Profile } from './profileTypes.ts';
import { detectRelease, readCatalogFacts, type Detection } from './release.ts';

/**
 * The release a database is at: by probing its catalog when the profile has probes; else by its newest applied drizzle
 * entry.
 */
export async function detectInstall(
  client: Pick<Client, 'query'>,
  profile: Pick<Profile, 'drizzleDir' | 'releaseProbes'>,
): Promise<Detection> {
  const migrations = readMigrations(profile.drizzleDir);
  const facts = await readCatalogFacts(client);
  if (profile.releaseProbes) {
    return detectRelease(facts, profile.releaseProbes, new Map(migrations.map((m) => [m.tag, m.hash])));
  }
  const applied = migrations.filter((m) => facts.drizzleHashes.has(m.hash));
  const last = applied.at(-1);
  return { release: last ? last.tag : null, evidence: applied.map((m) => `${m.tag}: in drizzle's ledger`), ahead: [] };
}
