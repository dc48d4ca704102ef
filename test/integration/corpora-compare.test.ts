// The corpus runner's comparisons (test/corpora/compare.ts) on real databases: two databases
// that differ in one object, or only in the order of columns or enum values, are reported not
// equal, naming what differs; the same schema built twice is equal; drizzle's ledger is
// compared by (hash, created_at). And its psql path writes the ledger rows drizzle-orm's own
// migrate() writes, to the same schema. A corpus needing an extension the server lacks is
// skipped with that said, never failed obscurely.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import {
  compareDumps,
  compareLedgers,
  dumpSchema,
  readLedger,
  snapshot,
  compareSnapshots,
} from '../corpora/compare.ts';
import { drizzleOrmMigrate, psqlMigrate, truncatedCopy } from '../corpora/drizzleSide.ts';
import { runCorpus } from '../corpora/runner.ts';
import type { ServerHandle } from '../support/servers/common.ts';
import { freshDatabase, serverInfo, withClientAt, type TestDatabase } from '../support/database.ts';

const SCHEMA = `
  create type mood as enum ('sad', 'ok', 'happy');
  create table people (id integer primary key, name text not null, mood mood default 'ok');
  create index people_name_idx on people (name);
`;

/**
 * A directory with psql and pg_dump for this server: its own (embedded ones have neither), or that of the pg_dump upkit
 * would back it up with.
 */
function toolDir(): string | undefined {
  const info = serverInfo();
  const hasTools = (dir: string): boolean => ['psql', 'pg_dump'].every((p) => existsSync(path.join(dir, p)));
  if (info.binDir && hasTools(info.binDir)) return info.binDir;
  if (info.backups.testable && hasTools(path.dirname(info.backups.pgDump.path)))
    return path.dirname(info.backups.pgDump.path);
  return undefined;
}

/** toolDir(), or the test is skipped, saying why. */
function binDir(ctx: TestContext): string {
  const dir = toolDir();
  if (dir) return dir;
  const info = serverInfo();
  return ctx.skip(
    `needs psql and pg_dump for PostgreSQL ${info.majorVersion}: none beside the ` +
      `server's programs${info.backups.testable ? '' : `, and ${info.backups.reason}`}`,
  );
}

describe('corpus runner comparisons', () => {
  const dbs: TestDatabase[] = [];
  const dirs: string[] = [];
  const two = async (): Promise<[TestDatabase, TestDatabase]> => {
    const pair: [TestDatabase, TestDatabase] = [await freshDatabase(), await freshDatabase()];
    dbs.push(...pair);
    return pair;
  };
  afterEach(async () => {
    for (const d of dbs.splice(0)) await d.drop();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reports the same schema built twice equal, and each kind of difference not equal, naming it', async (ctx) => {
    const tools = binDir(ctx);
    const [a, b] = await two();
    await withClientAt(a.url, (c) => c.query(SCHEMA));
    await withClientAt(b.url, (c) => c.query(SCHEMA));
    expect(compareDumps(await dumpSchema(a.url, tools), await dumpSchema(b.url, tools))).toEqual({
      equal: true,
      detail: [],
    });

    const cases: Array<[string, string, RegExp]> = [
      [
        'an enum value in another order',
        SCHEMA.replace(`('sad', 'ok', 'happy')`, `('sad', 'happy', 'ok')`),
        /only b: 'happy',/,
      ],
      ['a column default', SCHEMA.replace(`default 'ok'`, `default 'sad'`), /only b: mood public\.mood DEFAULT 'sad'/],
      [
        'a missing index',
        SCHEMA.replace('create index people_name_idx on people (name);', ''),
        /only a: CREATE INDEX people_name_idx/,
      ],
      [
        'columns in another order',
        SCHEMA.replace(`name text not null, mood mood default 'ok'`, `mood mood default 'ok', name text not null`),
        /only b: name text NOT NULL$/m,
      ],
      ['a NOT NULL', SCHEMA.replace('name text not null', 'name text'), /only a: name text NOT NULL/],
    ];
    for (const [what, other, named] of cases) {
      await withClientAt(b.url, (c) => c.query(`drop table people; drop type mood; ${other}`));
      const result = compareDumps(await dumpSchema(a.url, tools), await dumpSchema(b.url, tools));
      expect(result.equal, what).toBe(false);
      expect(result.detail.join('\n'), what).toMatch(named);
    }
  });

  it('compares drizzle ledgers by hash and created_at, whatever the ids', () => {
    const rows = [
      { hash: 'h1', created_at: '1' },
      { hash: 'h2', created_at: '2' },
    ];
    expect(compareLedgers(rows, [...rows].reverse()).equal).toBe(true);
    expect(compareLedgers(rows, [rows[0]!, { hash: 'h2', created_at: '3' }]).equal).toBe(false);
    expect(compareLedgers(rows, rows.slice(0, 1)).detail).toEqual(['only a: h2 2']);
  });

  it(
    "writes by psql the schema and ledger rows drizzle-orm's migrate() " +
      'writes, and tells a half-applied folder apart',
    async (ctx) => {
      const tools = binDir(ctx);
      const dir = mkdtempSync(path.join(tmpdir(), 'upkit-corpus-test-'));
      dirs.push(dir);
      mkdirSync(path.join(dir, 'meta'));
      const entries = [
        // The second piece has no closing ';' before the breakpoint, as real folders have.
        {
          tag: '0000_one',
          when: 1700000000000,
          sql:
            'CREATE TABLE "a" ("id" integer PRIMARY KEY)--> ' +
            "statement-breakpoint\nCREATE TYPE \"k\" AS ENUM ('x', 'y');",
        },
        {
          tag: '0001_two',
          when: 1700000001000,
          sql:
            "ALTER TYPE \"k\" ADD VALUE 'w' BEFORE 'x';--> " +
            'statement-breakpoint\nALTER TABLE "a" ADD COLUMN "k" "k";',
        },
        { tag: '0002_three', when: 1700000002000, sql: 'CREATE INDEX CONCURRENTLY "a_k_idx" ON "a" ("k");' },
      ];
      for (const e of entries) writeFileSync(path.join(dir, `${e.tag}.sql`), e.sql);
      writeFileSync(
        path.join(dir, 'meta', '_journal.json'),
        JSON.stringify({
          version: '7',
          dialect: 'postgresql',
          entries: entries.map((e, idx) => ({ idx, version: '7', when: e.when, tag: e.tag, breakpoints: true })),
        }),
      );
      const twoFirst = truncatedCopy(dir, 2);
      dirs.push(twoFirst);

      const [byOrm, byPsql] = await two();
      await drizzleOrmMigrate(byOrm.url, twoFirst);
      await psqlMigrate(byPsql.url, twoFirst, tools);
      const ledger = await readLedger(byPsql.url);
      expect(ledger.map((r) => r.created_at)).toEqual(['1700000000000', '1700000001000']);
      expect(
        compareSnapshots(await snapshot(byOrm.url, tools), await snapshot(byPsql.url, tools), ['orm', 'psql']),
      ).toEqual({ catalog: { equal: true, detail: [] }, ledger: { equal: true, detail: [] } });

      // The rest by psql (drizzle's one transaction cannot build an index CONCURRENTLY): only the pending entry runs.
      await psqlMigrate(byPsql.url, dir, tools);
      const after = compareSnapshots(await snapshot(byOrm.url, tools), await snapshot(byPsql.url, tools), [
        'orm',
        'psql',
      ]);
      expect(after.catalog.equal).toBe(false);
      expect(after.catalog.detail.join('\n')).toMatch(/only psql: CREATE INDEX a_k_idx/);
      expect(after.ledger.detail).toEqual([expect.stringMatching(/^only psql: [0-9a-f]{64} 1700000002000$/)]);
      expect(
        await withClientAt(
          byPsql.url,
          async (c) => (await c.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n,
        ),
      ).toBe(3);
    },
  );

  it('skips a corpus whose extension the server lacks, saying which, before creating anything', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'upkit-corpus-test-'));
    dirs.push(dir);
    mkdirSync(path.join(dir, 'meta'));
    writeFileSync(
      path.join(dir, '0000_ext.sql'),
      'CREATE EXTENSION IF NOT EXISTS "upkit_no_such_extension";--> ' +
        'statement-breakpoint\nCREATE TABLE "t" ("id" integer);',
    );
    writeFileSync(
      path.join(dir, 'meta', '_journal.json'),
      JSON.stringify({
        version: '7',
        dialect: 'postgresql',
        entries: [{ idx: 0, version: '7', when: 1700000000000, tag: '0000_ext', breakpoints: true }],
      }),
    );
    const info = serverInfo();
    const server = { adminUrl: info.adminUrl } as ServerHandle;
    const databases = () => withAdminClientCount();
    const before = await databases();
    // Refused before any program runs: no psql or pg_dump is needed.
    const result = await runCorpus(server, toolDir() ?? info.binDir ?? '', dir, () => {});
    expect(result.skipped).toBe('skipped: needs extension upkit_no_such_extension');
    expect(result.install).toBeNull();
    expect(await databases()).toBe(before);
  });
});

async function withAdminClientCount(): Promise<number> {
  return withClientAt(
    serverInfo().adminUrl,
    async (c) =>
      (await c.query(`select count(*)::int as n from pg_database where datname like 'corpus\\_%'`)).rows[0].n,
  );
}
