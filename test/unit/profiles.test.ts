// The profile chosen for a drizzle folder, and what each provides: Pulse's eras and releases
// as the upgrade has always used them, and an app's tags.
import { cpSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { releaseName } from '../../lib/profileTypes.ts';
import { profileFor } from '../../profiles/index.ts';
import { PULSE_RELEASE_PROBES } from '../../drizzle/releases.ts';

const PULSE = { drizzleDir: path.join(PROJECT_ROOT, 'drizzle'), legacyDir: path.join(PROJECT_ROOT, 'legacy-sql') };

describe('profiles', () => {
  it(
    "Pulse's own drizzle folder (or a link to it) is Pulse: legacy era to v1.4, " +
      'drizzle entries v2.0 to v2.3, seed data, probes, first admin',
    () => {
      const link = path.join(mkdtempSync(path.join(tmpdir(), 'upkit-profile-')), 'drizzle');
      symlinkSync(PULSE.drizzleDir, link);
      for (const drizzleDir of [PULSE.drizzleDir, link]) {
        const p = profileFor({ ...PULSE, drizzleDir });
        expect(p.name).toBe('pulse');
        expect(p.legacy).toEqual({ end: 'v1.4', before: ['v1.0', 'v1.1', 'v1.2', 'v1.3'] });
        expect(p.drizzleReleases).toEqual(['v2.0', 'v2.1', 'v2.2', 'v2.3']);
        expect(p.latestRelease).toBe('v2.3');
        expect(p.releaseProbes).toBe(PULSE_RELEASE_PROBES);
        expect(p.seed?.tables).toEqual(['organizations', 'roles', 'permissions', 'role_permissions']);
        expect(p.createAdmin).toBeTypeOf('function');
        expect(p.legacyDir).toBe(PULSE.legacyDir);
        expect(releaseName(p, 'v2.3')).toBe('Pulse v2.3');
      }
    },
  );

  it(
    "any other folder is an app: its journal's last tag is the latest; " +
      "no seed, probes, legacy era or admin; Pulse's legacy folder is not its",
    () => {
      const copy = path.join(mkdtempSync(path.join(tmpdir(), 'upkit-profile-')), 'drizzle');
      cpSync(PULSE.drizzleDir, copy, { recursive: true });
      const app = profileFor({ drizzleDir: copy, legacyDir: PULSE.legacyDir });
      expect(app.name).toBe('app');
      expect(app.latestRelease).toBe(readMigrations(PULSE.drizzleDir).at(-1)!.tag);
      expect(app.legacyDir).toBeUndefined();
      expect([app.seed, app.releaseProbes, app.legacy, app.drizzleReleases, app.createAdmin, app.label]).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      expect(releaseName(app, '0004_notes')).toBe('0004_notes');
      const legacy = mkdtempSync(path.join(tmpdir(), 'upkit-profile-legacy-'));
      expect(profileFor({ drizzleDir: copy, legacyDir: legacy }).legacyDir).toBe(legacy);
    },
  );

  it(
    "an app's journal is read when its latest release is first asked for, " +
      'so a folder without one fails where the engine reads it',
    () => {
      const missing = path.join(mkdtempSync(path.join(tmpdir(), 'upkit-profile-')), 'nothing-here');
      const p = profileFor({ drizzleDir: missing, legacyDir: PULSE.legacyDir });
      expect(p.name).toBe('app');
      expect(() => p.latestRelease).toThrow(/meta\/_journal\.json is missing/);
    },
  );
});
