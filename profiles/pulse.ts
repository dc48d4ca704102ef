// Pulse, upkit's first application, as a profile: its releases and the catalog probes that
// recognise them, the legacy era (hand-run SQL files up to v1.4, then drizzle from v2.0), its
// seed data (system roles, permissions, feature flags) and its first admin. Built from
// Pulse's own content (drizzle/seed.ts, drizzle/releases.ts, legacy-sql/).
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { PULSE_RELEASE_PROBES } from '../drizzle/releases.ts';
import { applySeed, LATEST_RELEASE, RELEASES, releaseIndex, seedFor, seedGaps, type Release } from '../drizzle/seed.ts';
import { PROJECT_ROOT } from '../lib/config.ts';
import { createAdmin } from '../lib/install/admin.ts';
import { MIN_MEMORY_BYTES } from '../lib/install/hostChecks.ts';
import type { Profile, ProfileSeed } from '../lib/profileTypes.ts';

export const PULSE_DRIZZLE_DIR = path.join(PROJECT_ROOT, 'drizzle');
export const PULSE_LEGACY_DIR = path.join(PROJECT_ROOT, 'legacy-sql');
/** Pulse's repeatable SQL: beside its drizzle folder, as an app's is. */
export const PULSE_REPEATABLE_DIR = path.join(PROJECT_ROOT, 'repeatable');

/** The Pulse release drizzle's first entry brings; the legacy era ends at the one before it. */
const DRIZZLE_ERA_START: Release = 'v2.0';

function pulseSeed(): ProfileSeed {
  const latest = seedFor(LATEST_RELEASE);
  return {
    flags: latest.flags,
    permissions: latest.permissions.map((p) => ({ resource: p.resource, action: p.action })),
    systemRoles: latest.roles.map((r) => r.name),
    adminRole: 'admin',
    tables: ['organizations', 'roles', 'permissions', 'role_permissions'],
    apply: (client, release) => applySeed(client, release as Release),
    async gaps(client, release) {
      const g = await seedGaps(client, release as Release);
      return g.organizationsMissingFlags + g.missingPermissions + g.missingRoles + g.adminMissingGrants;
    },
  };
}

/** Pulse's profile; its folders default to Pulse's own (--legacy-dir may point at another legacy folder). */
export function pulseProfile(folders: { drizzleDir?: string; legacyDir?: string; repeatableDir?: string | undefined } = {}) {
  const start = releaseIndex(DRIZZLE_ERA_START);
  return {
    name: 'pulse',
    label: 'Pulse',
    drizzleDir: folders.drizzleDir ?? PULSE_DRIZZLE_DIR,
    legacyDir: folders.legacyDir ?? PULSE_LEGACY_DIR,
    repeatableDir: folders.repeatableDir ?? PULSE_REPEATABLE_DIR,
    latestRelease: LATEST_RELEASE,
    releaseProbes: PULSE_RELEASE_PROBES,
    drizzleReleases: RELEASES.slice(start),
    legacy: { end: RELEASES[start - 1]!, before: RELEASES.slice(0, start - 1) },
    seed: pulseSeed(),
    minMemoryBytes: MIN_MEMORY_BYTES,
    createAdmin,
  } satisfies Profile;
}

/** Whether `dir` is Pulse's own drizzle folder (a symlink to it counts). */
export function isPulseFolder(dir: string): boolean {
  try {
    return realpathSync(dir) === realpathSync(PULSE_DRIZZLE_DIR);
  } catch {
    return path.resolve(dir) === PULSE_DRIZZLE_DIR;
  }
}
