// What upkit knows of the application it serves. Pulse's own content (release probes,
// seed data, legacy files) applies only when upkit runs with Pulse's drizzle folder;
// pointed at another app's folder (--drizzle-dir), upkit knows that app's ledger alone.
import path from 'node:path';
import type { Client } from 'pg';
import { PULSE_RELEASE_PROBES } from '../drizzle/releases.ts';
import type { Config } from './config.ts';
import { PROJECT_ROOT } from './config.ts';
import { readMigrations } from './drizzle/journal.ts';
import { detectRelease, readCatalogFacts, type Detection } from './release.ts';

export function isPulse(config: Pick<Config, 'drizzleDir'>): boolean {
  return path.resolve(config.drizzleDir) === path.join(PROJECT_ROOT, 'drizzle');
}

/** The release a database is at: Pulse's by probing its catalog; another app's by its newest applied drizzle entry. */
export async function detectInstall(client: Pick<Client, 'query'>, config: Pick<Config, 'drizzleDir'>): Promise<Detection> {
  const migrations = readMigrations(config.drizzleDir);
  const facts = await readCatalogFacts(client);
  if (isPulse(config)) {
    return detectRelease(facts, PULSE_RELEASE_PROBES, new Map(migrations.map((m) => [m.tag, m.hash])));
  }
  const applied = migrations.filter((m) => facts.drizzleHashes.has(m.hash));
  const last = applied.at(-1);
  return { release: last ? last.tag : null, evidence: applied.map((m) => `${m.tag}: in drizzle's ledger`), ahead: [] };
}
