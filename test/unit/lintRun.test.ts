// The lint over a whole pending run (lib/lint.ts, lib/lint/state.ts): what a statement can
// destroy depends on what the database held when the plan was made and on what the earlier
// statements of the run, in any earlier file, made, renamed, moved or dropped.
import { describe, expect, it } from 'vitest';
import { blocking, lintRun, type LintContext, type LiveCatalog } from '../../lib/lint.ts';
import { parseSqlFile } from '../../lib/sql/statements.ts';

/**
 * A database with data: public.users (rows), public.empty_t (none), s.full (rows), s2.blank (none), type public.status.
 */
function withData(schema = 'public'): LintContext {
  const rows = new Set(['public.users', 's.full', 'app.users']);
  const tables = new Set(['public.users', 'public.empty_t', 's.full', 's2.blank', 'app.users']);
  const live: LiveCatalog = {
    relations: new Set([...tables, 'public.users_pkey']),
    tables,
    types: new Set(['public.status', 'public.users', 'public.empty_t']),
    schemas: new Set(['public', 's', 's2', 'app']),
    holdsData: true,
  };
  return { tableHasRows: (t) => (tables.has(t) ? rows.has(t) : false), live, schema };
}

/** An empty database: a fresh install. */
const fresh: LintContext = {
  tableHasRows: () => false,
  live: { relations: new Set(), tables: new Set(), types: new Set(), schemas: new Set(['public']), holdsData: false },
};
/** Nothing known (a down file): every object named is taken to exist and hold rows. */
const unknown: LintContext = { tableHasRows: () => undefined };

async function run(files: string[], context: LintContext): Promise<string[]> {
  const parsed = await Promise.all(
    files.map(async (sql, i) => ({
      file: `000${i}_x.sql`,
      statements: await parseSqlFile(sql, { file: `000${i}_x.sql`, breakpoints: true }),
    })),
  );
  return lintRun(parsed, context).map((f) => `${f.file} ${f.rule} ${f.object}`);
}

const cases: Array<{ name: string; files: string[]; context?: LintContext; found: string[] }> = [
  // Made by the run, then destroyed: no data that existed.
  {
    name: 'a table created in one file and dropped in a later one',
    files: ['CREATE TABLE "tmp" ("id" integer);', 'DROP TABLE "tmp";'],
    found: [],
  },
  {
    name: 'a table created, filled by the run, truncated, emptied, its columns dropped and retyped',
    files: [
      "CREATE TABLE t (a int, b text); INSERT INTO t VALUES (1, 'x');",
      'TRUNCATE t; DELETE FROM t; UPDATE t SET a = 2; ALTER TABLE t DROP COLUMN b, ' +
        'ALTER COLUMN a TYPE bigint, ALTER COLUMN a SET NOT NULL; ALTER TABLE t RENAME COLUMN a TO c',
    ],
    found: [],
  },
  {
    name: 'a backfill of a column added earlier in the run, then NOT NULL',
    files: [
      'ALTER TABLE "users" ADD COLUMN "slug" text;',
      'UPDATE "users" SET "slug" = lower("name");--> statement-breakpoint\n' +
        'ALTER TABLE "users" ALTER COLUMN "slug" SET NOT NULL;',
    ],
    found: [],
  },
  {
    name: 'an UPDATE that also sets a column that existed',
    files: ["ALTER TABLE users ADD COLUMN a int; UPDATE users SET a = 1, name = 'x'"],
    found: ['0000_x.sql update_without_where users'],
  },
  {
    name: 'ADD COLUMN IF NOT EXISTS on a table with rows: the column may hold data already',
    files: ['ALTER TABLE users ADD COLUMN IF NOT EXISTS a int; UPDATE users SET a = 1'],
    found: ['0000_x.sql update_without_where users'],
  },
  {
    name: 'a column added by the run, renamed, then dropped',
    files: [
      'ALTER TABLE users ADD COLUMN a int',
      'ALTER TABLE users RENAME COLUMN a TO b',
      'ALTER TABLE users DROP COLUMN b',
    ],
    found: [],
  },
  {
    name: 'a column that existed, renamed, then dropped',
    files: ['ALTER TABLE users RENAME COLUMN name TO full_name', 'ALTER TABLE users DROP COLUMN full_name'],
    found: ['0000_x.sql rename users.name', '0001_x.sql drop_column users.full_name'],
  },
  {
    name: 'a rename chain of a table the run created',
    files: [
      'CREATE TABLE a (x int)',
      'ALTER TABLE a RENAME TO b',
      'ALTER TABLE b RENAME TO c; ALTER TABLE c DROP COLUMN x; DROP TABLE c',
    ],
    found: [],
  },
  {
    name: 'a rename of a table with rows: the new name holds its data',
    files: ['ALTER TABLE users RENAME TO people', 'ALTER TABLE people DROP COLUMN name; DROP TABLE people'],
    found: ['0000_x.sql rename users', '0001_x.sql drop_column people.name', '0001_x.sql drop_table people'],
  },
  {
    name: 'dropped, made again, dropped again: only the first drop loses data',
    files: ['DROP TABLE users', 'CREATE TABLE users (id int)', 'ALTER TABLE users DROP COLUMN id; DROP TABLE users'],
    found: ['0000_x.sql drop_table users'],
  },
  // Names as PostgreSQL resolves them, search_path pinned to public.
  {
    name: 'qualified and unqualified names of the same table',
    files: ['CREATE TABLE public.t (id int)', 'DROP TABLE "t"; CREATE TABLE t (id int); DROP TABLE "public"."t"'],
    found: [],
  },
  {
    name: 'a table of another schema is not the unqualified one',
    files: ['CREATE TABLE s.users (id int)', 'DROP TABLE users; DROP TABLE s.users'],
    found: ['0001_x.sql drop_table users'],
  },
  {
    name: 'unqualified names go to the pinned schema',
    files: ['DROP TABLE empty_t; DROP TABLE users'],
    context: withData('app'),
    found: ['0000_x.sql drop_table users'],
  },
  // A search_path of several schemas: a name is the first schema's that holds it, and is made in the first that exists.
  {
    name: 'an unqualified name found in a later schema of the search_path',
    files: ['DROP TABLE users', 'DROP TABLE "full"'],
    context: { ...withData(), searchPath: ['s2', 'missing', 'public', 's'] },
    found: ['0000_x.sql drop_table users', '0001_x.sql drop_table full'],
  },
  {
    name: 'the first schema of the search_path that holds the name wins',
    files: ['DROP TABLE blank'],
    context: { ...withData(), searchPath: ['s2', 'public'] },
    found: [],
  },
  {
    name: 'a table made by the run in the first schema hides the later one, until dropped',
    files: ['CREATE TABLE users (id int); DROP TABLE users', 'DROP TABLE users'],
    context: { ...withData(), searchPath: ['s2', 'public'] },
    found: ['0001_x.sql drop_table users'],
  },
  {
    name: 'a schema of the search_path made by the run takes new tables',
    files: ['CREATE SCHEMA later; CREATE TABLE users (id int)', 'DROP TABLE users'],
    context: { ...withData(), searchPath: ['later', 'public'] },
    found: [],
  },
  {
    name: 'a type found in a later schema of the search_path',
    files: ['DROP TYPE status'],
    context: { ...withData(), searchPath: ['s2', 'public'] },
    found: ['0000_x.sql drop_type status'],
  },
  {
    name: 'a temporary table hides the table of the same name, until dropped',
    files: ['CREATE TEMP TABLE users (id int); DROP TABLE users', 'DROP TABLE users'],
    found: ['0001_x.sql drop_table users'],
  },
  {
    name: 'a table moved to another schema keeps its data',
    files: ['ALTER TABLE users SET SCHEMA archive', 'DROP TABLE archive.users'],
    found: ['0001_x.sql drop_table archive.users'],
  },
  // The plan read it as empty.
  {
    name: 'a table that holds no row',
    files: [
      'TRUNCATE empty_t; DELETE FROM empty_t; UPDATE empty_t SET a = 1; ALTER TABLE empty_t DROP COLUMN a, ' +
        'ALTER COLUMN b TYPE int, ALTER COLUMN b SET NOT NULL, ADD COLUMN c int NOT NULL; DROP TABLE empty_t',
    ],
    found: [],
  },
  {
    name: 'a table that does not exist: the statement fails or does nothing',
    files: ['DROP TABLE IF EXISTS gone; ALTER TABLE IF EXISTS gone DROP COLUMN a'],
    found: [],
  },
  {
    name: 'the real ones on a table with rows',
    files: [
      'ALTER TABLE users DROP COLUMN name',
      'TRUNCATE users; DELETE FROM "public"."users"; ALTER TABLE users ALTER COLUMN ' +
        'id TYPE bigint, ALTER COLUMN name SET NOT NULL, ADD COLUMN b int NOT NULL',
    ],
    found: [
      '0000_x.sql drop_column users.name',
      '0001_x.sql truncate users',
      '0001_x.sql delete_without_where public.users',
      '0001_x.sql alter_column_type users.id',
      '0001_x.sql set_not_null users.name',
      '0001_x.sql set_not_null users.b',
    ],
  },
  {
    name: 'TRUNCATE … CASCADE empties the tables that refer to it too',
    files: ['CREATE TABLE t (id int); TRUNCATE t CASCADE'],
    found: ['0000_x.sql truncate t'],
  },
  // Types and schemas.
  {
    name: 'a type the run made, renamed and dropped',
    files: ["CREATE TYPE mood AS ENUM ('a')", 'ALTER TYPE mood RENAME TO feeling; DROP TYPE feeling CASCADE'],
    found: [],
  },
  {
    name: 'a type that existed; a column with data retyped to a new type, then that type dropped with CASCADE',
    files: [
      'DROP TYPE status',
      "CREATE TYPE mood AS ENUM ('a'); ALTER TABLE users ALTER COLUMN name TYPE mood USING 'a'",
      'DROP TYPE mood CASCADE',
    ],
    found: ['0000_x.sql drop_type status', '0001_x.sql alter_column_type users.name', '0002_x.sql drop_type mood'],
  },
  {
    name: 'a schema the run made, with its tables',
    files: ['CREATE SCHEMA x; CREATE TABLE x.t (id int); INSERT INTO x.t VALUES (1)', 'DROP SCHEMA x CASCADE'],
    found: [],
  },
  {
    name: 'a schema whose tables hold rows, or none',
    files: ['DROP SCHEMA s2 CASCADE', 'DROP SCHEMA s CASCADE'],
    found: ['0001_x.sql drop_schema s'],
  },
  {
    name: 'a schema renamed moves its tables along',
    files: ['ALTER SCHEMA s RENAME TO s3', 'DROP TABLE s3.full'],
    found: ['0000_x.sql rename s', '0001_x.sql drop_table s3.full'],
  },
  // DO blocks are opaque: one that renames may have moved data to a name the catalog lacks.
  {
    name: 'a DO block that renames a table with rows',
    files: ['DO $$ BEGIN ALTER TABLE users RENAME TO old_users; END $$;', 'DROP TABLE old_users'],
    found: ['0001_x.sql drop_table old_users'],
  },
  {
    name: "drizzle's DO block around CREATE TYPE",
    files: [
      'DO $$ BEGIN CREATE TYPE "public"."kind" AS ENUM(\'a\'); EXCEPTION WHEN duplicate_object THEN null; END $$;',
      'DROP TYPE "public"."kind"',
    ],
    found: [],
  },
];

describe('lint over a pending run, on a database with data', () => {
  for (const c of cases) it(c.name, async () => expect(await run(c.files, c.context ?? withData())).toEqual(c.found));
});

describe('lint over a pending run, on an empty database (a fresh install)', () => {
  it('finds nothing in any of the runs above', async () => {
    for (const c of cases) expect(await run(c.files, fresh), c.name).toEqual([]);
  });
});

describe('lint with nothing known of the database', () => {
  it('takes every object named to exist and hold rows, but follows what the run made', async () => {
    expect(await run(['DROP TABLE x; UPDATE y SET a = 1'], unknown)).toEqual([
      '0000_x.sql drop_table x',
      '0000_x.sql update_without_where y',
    ]);
    expect(
      await run(
        ['CREATE TABLE x (a int)', 'ALTER TABLE y ADD COLUMN b int; UPDATE y SET b = 1; DROP TABLE x'],
        unknown,
      ),
    ).toEqual([]);
  });

  it('keeps -- upkit:safe: listed, accepted by its author', async () => {
    const statements = await parseSqlFile(
      '-- upkit:safe the name moved to profiles in 0003\nALTER TABLE users DROP COLUMN name;',
      { file: 'x.sql', breakpoints: true },
    );
    const [f] = lintRun([{ file: 'x.sql', statements }], withData());
    expect([f!.rule, f!.safe, f!.accepted, f!.acceptedBy]).toEqual([
      'drop_column',
      'the name moved to profiles in 0003',
      true,
      'upkit:safe',
    ]);
    expect(blocking([f!])).toEqual([]);
  });
});
