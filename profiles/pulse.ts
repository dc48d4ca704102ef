// Pulse, upkit's first application, as a profile: its releases and the catalog probes that
// recognise them, the legacy era (hand-run SQL files up to v1.4, then drizzle from v2.0), its
// seed data (system roles, permissions, feature flags) and its first admin. Built from
// Pulse's own content (drizzle/seed.ts, drizzle/releases.ts, legacy-sql/).
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { PULSE_RELEASE_PROBES } from '../drizzle/releases.ts';
import { applySeed, LATEST_RELEASE, RELEASES, releaseIndex, seedFor, seedGaps, type Release } from '../drizzle/seed.ts';
import { PROJECT_ROOT } from '../lib/config.ts';
import { randomBytes } from 'node:crypto';
import { createAdmin } from '../lib/install/admin.ts';
import { token, type EnvKey } from '../lib/install/envFile.ts';
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

/**
 * What Pulse's containers and upkit read, written by install where .env lacks them. DB_* only when no DATABASE_URL is
 * configured.
 */
export function pulseEnvKeys(hasDatabaseUrl: boolean): EnvKey[] {
  const db: EnvKey[] = hasDatabaseUrl
    ? []
    : [
        {
          key: 'DB_HOST',
          make: () => 'localhost',
          secret: false,
          comment: 'database host (the compose service name when PostgreSQL runs in compose)',
        },
        { key: 'DB_PORT', make: () => '5432', secret: false, comment: 'database port' },
        { key: 'DB_USER', make: () => 'pulse', secret: false, comment: 'database role' },
        { key: 'DB_PASSWORD', make: token(24), secret: true, comment: 'database password' },
        { key: 'DB_NAME', make: () => 'config_management', secret: false, comment: 'database name' },
      ];
  return [
    ...db,
    { key: 'JWT_SECRET', make: token(48), secret: true, comment: 'signs session tokens' },
    { key: 'SESSION_SECRET', make: token(48), secret: true, comment: 'signs cookies' },
    {
      key: 'ENCRYPTION_KEY',
      make: () => randomBytes(32).toString('hex'),
      secret: true,
      comment: 'encrypts stored integration credentials (AES-256)',
    },
  ];
}

/** Pulse's profile; its folders default to Pulse's own (--legacy-dir may point at another legacy folder). */
export function pulseProfile(
  folders: { drizzleDir?: string; legacyDir?: string; repeatableDir?: string | undefined } = {},
) {
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
    envKeys: pulseEnvKeys,
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
