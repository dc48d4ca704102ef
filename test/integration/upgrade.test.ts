// Every starting point a Pulse install can be at, with data, upgraded by the real entry
// point: it must end at a fresh install's schema with every row kept, leave drizzle's own
// migrator nothing to do, and be a no-op the second time.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, backupsTestable, connectTo, useFreshDatabase } from '../support/database.ts';
import {
  asRelease,
  DRIZZLE_DIR,
  FIXTURE_RELEASES,
  type FixtureRelease,
  freshInstallFingerprint,
} from '../support/releases.ts';
import { flattenFlags, lostOrChanged, rowSnapshot, upgradeTransforms } from '../support/rows.ts';

const connect = connectTo;

describe('upgrade from every release', () => {
  const db = useFreshDatabase();

  it.each(FIXTURE_RELEASES.map((r) => [r]))(
    '%s with data → latest, rows kept, then a no-op',
    async (release: FixtureRelease) => {
      await asRelease(db(), release);
      const c = await connect(db().url);
      try {
        const before = flattenFlags(await rowSnapshot(c));
        const backupDir = mkdtempSync(path.join(tmpdir(), 'upkit-up-'));
        const env = { DATABASE_URL: db().url, BACKUP_DIR: backupDir };
        const r = await runUpkit('upgrade.ts', [...backupArgs(), '--json', '--yes'], { env });
        expect(r.code, r.stderr).toBe(0);
        const report = r.json();
        expect(report.release).toEqual({ from: release === 'empty' ? null : release, to: 'v2.3' });
        expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
        // A clean install is clean: no warning either (a baseline row once showed as an unknown legacy file).
        expect(report.findings.filter((f) => f.severity === 'warning')).toEqual([]);
        if (release === 'v2.3' || !backupsTestable()) expect(report.backup).toBeNull();
        else expect(report.backup?.path).toContain(backupDir);
        // Where no pg_dump here can dump the server, the upgrade ran with --no-backup, and says so.
        if (release !== 'v2.3' && !backupsTestable())
          expect(report.findings.map((f) => f.code)).toContain('backup.skipped');

        expect(await schemaFingerprint(c)).toEqual(await freshInstallFingerprint());
        const after = flattenFlags(await rowSnapshot(c));
        expect(lostOrChanged(before, after, upgradeTransforms)).toEqual([]);
        for (const o of after.get('organizations')?.values() ?? []) {
          expect(Object.keys(o.features_enabled as object).sort()).toEqual([
            'apiKeys',
            'auditLogs',
            'awsIntegrations',
            'configurations',
            'discovery',
          ]);
        }

        // drizzle's own migrator, as the application runs it at start-up, finds nothing to do.
        const ledger = await c.query('select id, hash, created_at from drizzle.__drizzle_migrations order by id');
        expect(ledger.rows).toHaveLength(4);
        await migrate(drizzle(c), { migrationsFolder: DRIZZLE_DIR });
        expect(
          (await c.query('select id, hash, created_at from drizzle.__drizzle_migrations order by id')).rows,
        ).toEqual(ledger.rows);

        const again = await runUpkit('upgrade.ts', [...backupArgs(), '--json', '--yes'], { env });
        expect(again.code, again.stderr).toBe(0);
        expect(again.json().backup).toBeNull();
        expect(again.json<{ plan: { steps: unknown[] } }>().plan.steps).toEqual([]);
        expect(again.stderr).toContain('nothing to apply, no backup needed');
      } finally {
        await c.end();
      }
    },
  );
});
