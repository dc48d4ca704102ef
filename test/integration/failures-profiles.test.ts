// Catalogue cases (test/failures/hardening/profiles.ts): what only a profile provides is refused
// for an app that lacks it, before anything is written.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { expectCase, failureCase, runCase, tempDir } from '../failures/check.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { drizzleFolderWith } from '../support/drizzleFolders.ts';
import { DRIZZLE_DIR } from '../support/releases.ts';

describe('failure catalogue: profiles', () => {
  const db = useFreshDatabase();

  it('install.admin-email-app', async () => {
    const c = failureCase('install.admin-email-app');
    const last = readMigrations(DRIZZLE_DIR).at(-1)!;
    const dir = drizzleFolderWith({
      tag: '0004_notes',
      sql: 'CREATE TABLE "notes" ("id" integer PRIMARY KEY);',
      when: last.when + 1000,
    });
    const passwordFile = path.join(tempDir(), 'password');
    writeFileSync(passwordFile, 'a long enough password\n', { mode: 0o600 });
    const r = await runCase(c, { url: db().url, dir, passwordFile });
    expectCase(r, c, r.vars);
    const relations = await withClientAt(
      db().url,
      async (cl) =>
        (
          await cl.query<{ n: number }>(
            `select count(*)::int as n from pg_class where relnamespace in ('public'::regnamespace, ` +
              `coalesce(to_regnamespace('drizzle'), 0), coalesce(to_regnamespace('upkit'), 0))`,
          )
        ).rows[0]!.n,
    );
    expect(relations, 'nothing was created').toBe(0);
  });
});
