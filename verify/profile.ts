// Content is a profile (DESIGN.md): what verification expects beyond the drizzle folder,
// i.e. Pulse's seed data and release probes. Another app's drizzle folder gets none of it.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { PULSE_RELEASE_PROBES } from '../drizzle/releases.ts';
import { LATEST_RELEASE, seedFor } from '../drizzle/seed.ts';
import { PROJECT_ROOT, type Config } from '../lib/config.ts';
import type { ReleaseProbe } from '../lib/release.ts';
import type { SeedExpectations } from './seed.ts';

export interface ContentProfile {
  name: string;
  latestRelease: string;
  releaseProbes: readonly ReleaseProbe[];
  seed: SeedExpectations;
}

export function pulseProfile(): ContentProfile {
  const seed = seedFor(LATEST_RELEASE);
  return {
    name: 'Pulse',
    latestRelease: LATEST_RELEASE,
    releaseProbes: PULSE_RELEASE_PROBES,
    seed: {
      flags: seed.flags,
      permissions: seed.permissions.map((p) => ({ resource: p.resource, action: p.action })),
      systemRoles: seed.roles.map((r) => r.name),
      adminRole: 'admin',
    },
  };
}

export const PULSE_DRIZZLE_DIR = path.join(PROJECT_ROOT, 'drizzle');
export const PULSE_LEGACY_DIR = path.join(PROJECT_ROOT, 'legacy-sql');

function same(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/** Pulse's profile and legacy folder for Pulse's own drizzle folder; for another app's, only what was pointed at. */
export function contentFor(config: Pick<Config, 'drizzleDir' | 'legacyDir'>): { profile: ContentProfile | undefined; legacyDir: string | undefined } {
  if (same(config.drizzleDir, PULSE_DRIZZLE_DIR)) return { profile: pulseProfile(), legacyDir: config.legacyDir };
  return { profile: undefined, legacyDir: same(config.legacyDir, PULSE_LEGACY_DIR) ? undefined : config.legacyDir };
}
