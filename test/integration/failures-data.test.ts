// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): data an upgrade cannot
// carry forward as it is. Changes had begun (legacy files recorded), so exit 1; the line says
// where the database stands and the hint names the backup to go back to.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCase, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { backupTests, connectTo, useFreshDatabase } from '../support/database.ts';
import { buildRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';

// The upgrade takes its backup before the legacy phase: skipped where no pg_dump here fits the server.
describe('failure catalogue: data', backupTests(), () => {
  const db = useFreshDatabase();

  it('data.case-duplicate-emails', async () => {
    const c = await connectTo(db().url);
    try {
      await buildRelease(c, 'v1.2');
      const org = (await c.query(`select id from organizations where slug = 'org-2'`)).rows[0].id;
      await c.query(`insert into users (organization_id, email, password_hash) values ($1, 'Alice@x.example', 'a'), ($1, 'alice@x.example', 'b')`, [org]);
      const before = { fp: await schemaFingerprint(c), rows: await rowSnapshot(c), drizzle: await rowSnapshot(c, 'drizzle') };
      const backups = tempDir('upkit-case-bk-');
      const fc = failureCase('data.case-duplicate-emails');
      const r = await runCase(fc, { url: db().url, backups });
      const dumps = readdirSync(backups).filter((f) => f.endsWith('.dump'));
      expect(dumps).toHaveLength(1);
      expectCase(r, fc, { ...r.vars, backup: path.join(backups, dumps[0]!) });
      expect(await schemaFingerprint(c)).toEqual(before.fp);
      expect(await rowSnapshot(c)).toEqual(before.rows);
      expect(await rowSnapshot(c, 'drizzle')).toEqual(before.drizzle);
      expect((await c.query(`select file, method from upkit.legacy_migrations order by applied_at, file`)).rows).toEqual([
        { file: 'upgrade.sql', method: 'file' },
        { file: 'feature-flags-migration.sql', method: 'file' },
        { file: 'rbac-permissions-fix.sql', method: 'file' },
      ]);
      expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'failed' }]);
    } finally {
      await c.end();
    }
  });
});
