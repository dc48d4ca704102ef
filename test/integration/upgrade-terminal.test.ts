// upgrade.ts on a terminal without --yes asks "Apply this plan … Type yes to go on:" once the
// plan is printed: yes applies it; any other answer, or Ctrl-C while it waits, changes nothing.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../failures/check.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';
import { freshDatabase, type TestDatabase, withClientAt } from '../support/database.ts';
import { hasScript, onTerminal } from '../support/terminal.ts';

describe.skipIf(!hasScript)('upgrade on a terminal asks before it changes anything', () => {
  let db: TestDatabase;
  let cwd: string;
  let args: string[];
  beforeEach(async () => {
    db = await freshDatabase();
    cwd = tempDir('upkit-upgrade-tty-');
    const app = path.join(cwd, 'app');
    writeAppFolder(
      [{ tag: '0000_init', sql: 'CREATE TABLE "items" ("id" integer PRIMARY KEY NOT NULL);' }],
      {
        tables: Object.fromEntries([
          table('public', 'items', [column('id', 'integer', { primaryKey: true, notNull: true })]),
        ]),
      },
      app,
    );
    args = ['--drizzle-dir', app, '--no-containers', '--no-backup'];
  });
  afterEach(async () => {
    await db.drop();
  });
  const applied = () =>
    withClientAt(
      db.url,
      async (c) =>
        (
          await c
            .query(`select count(*)::int as n from drizzle.__drizzle_migrations`)
            .catch(() => ({ rows: [{ n: 0 }] }))
        ).rows[0].n as number,
    );
  it.each([
    ['yes', 'applies the plan', 0, /Apply this plan to \S+ \(no backup: --no-backup\)\? Type yes to go on:/, 1],
    ['no', 'any other answer: exit 3, nothing changed', 3, /the plan was not confirmed/, 0],
    ['\u0003', 'Ctrl-C at the question: exit 130, nothing changed', 130, /interrupted/, 0],
  ] as const)(
    'typed %j: %s',
    async (answer, _title, code, said, entries) => {
      const r = await onTerminal(cwd, { DATABASE_URL: db.url }, args, answer);
      expect(r.code, r.output).toBe(code);
      expect(r.output).toMatch(said);
      expect(await applied()).toBe(entries);
    },
    120_000,
  );
});
