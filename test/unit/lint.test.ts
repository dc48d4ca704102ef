import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { blocking, lintStatements } from '../../lib/lint.ts';
import type { LintContext, LintFinding } from '../../lib/lint.ts';
import { parseSqlFile } from '../../lib/sql/statements.ts';
import { ROOT } from '../support/cli.ts';

const unknown: LintContext = { tableHasRows: () => undefined };
const empty: LintContext = { tableHasRows: () => false };

function repoFiles(): { file: string; text: string; breakpoints: boolean }[] {
  return ['drizzle', 'legacy-sql'].flatMap((dir) =>
    readdirSync(path.join(ROOT, dir))
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .map((f) => ({
        file: `${dir}/${f}`,
        text: readFileSync(path.join(ROOT, dir, f), 'utf8'),
        breakpoints: dir === 'drizzle',
      })),
  );
}

async function lint(sql: string, context: LintContext = unknown): Promise<LintFinding[]> {
  return lintStatements(await parseSqlFile(sql, { file: 'x.sql', breakpoints: false }), 'x.sql', context);
}

async function rules(sql: string, context: LintContext = unknown): Promise<string[]> {
  return (await lint(sql, context)).map((f) => `${f.rule} ${f.object}`);
}

describe('lint on the files of this repo', () => {
  it('finds only 0003 type change, reviewed, so nothing blocks', async () => {
    const all: LintFinding[] = [];
    for (const f of repoFiles()) all.push(...lintStatements(await parseSqlFile(f.text, f), f.file, unknown));
    expect(all).toEqual([
      {
        file: 'drizzle/0003_integration_status_enum.sql',
        line: 23,
        rule: 'alter_column_type',
        object: 'aws_integrations.status',
        message:
          'changes the type of aws_integrations.status (rewrites the table; values that do not convert fail or change)',
        statement:
          'ALTER TABLE "aws_integrations" ALTER COLUMN "status" SET DATA ' +
          'TYPE "public"."integration_status" USING (CASE WHEN lower(',
        safe: "the type change keeps every value; those outside the enum were recorded above and become 'error'",
        accepted: true,
        acceptedBy: 'upkit:safe',
      },
    ]);
    expect(blocking(all)).toEqual([]);
  });
});

describe('lint rules', () => {
  it('drop_table: DROP TABLE (even IF EXISTS) and DROP … CASCADE; not DROP INDEX', async () => {
    expect(await rules('DROP TABLE IF EXISTS a, s.b')).toEqual(['drop_table a', 'drop_table s.b']);
    expect(await rules('DROP VIEW v CASCADE')).toEqual(['drop_table v']);
    expect((await lint('DROP VIEW v CASCADE'))[0]!.message).toBe(
      'drops view v and, through CASCADE, everything that depends on it (columns, views, constraints)',
    );
    expect(await rules('DROP INDEX i; DROP INDEX CONCURRENTLY j; DROP VIEW v; DROP INDEX k CASCADE')).toEqual([]);
    expect(
      await rules('DROP POLICY "p" ON "projects" CASCADE; DROP TRIGGER t ON x CASCADE; DROP RULE r ON x CASCADE'),
    ).toEqual([]);
    expect(await rules('DROP FUNCTION f() CASCADE; DROP EXTENSION e CASCADE')).toEqual([
      'drop_table f',
      'drop_table e',
    ]);
  });

  it('drop_column: ALTER TABLE … DROP COLUMN; not DROP CONSTRAINT', async () => {
    const [f] = await lint('ALTER TABLE users DROP COLUMN IF EXISTS legacy_flag');
    expect([f!.rule, f!.object, f!.message]).toEqual([
      'drop_column',
      'users.legacy_flag',
      'drops column users.legacy_flag and its data',
    ]);
    expect(await rules('ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_unique')).toEqual([]);
  });

  it('truncate', async () => {
    expect(await rules('TRUNCATE a, s.b CASCADE')).toEqual(['truncate a', 'truncate s.b']);
    expect(await rules('DELETE FROM a WHERE false')).toEqual([]);
  });

  it('alter_column_type: TYPE and SET DATA TYPE; not SET DEFAULT', async () => {
    expect(await rules('ALTER TABLE t ALTER COLUMN a TYPE bigint, ALTER COLUMN b SET DATA TYPE varchar(20)')).toEqual([
      'alter_column_type t.a',
      'alter_column_type t.b',
    ]);
    expect(await rules('ALTER TABLE t ALTER COLUMN a TYPE text USING left(a, 3), ALTER COLUMN b TYPE text[]')).toEqual([
      'alter_column_type t.a',
      'alter_column_type t.b',
    ]);
    expect(await rules("ALTER TABLE t ALTER COLUMN a SET DEFAULT 'x'")).toEqual([]);
    // To text without USING, every value keeps its text form.
    expect(
      await rules(
        'ALTER TABLE t ALTER COLUMN a TYPE text, ALTER COLUMN b ' +
          'SET DATA TYPE varchar, ALTER COLUMN c TYPE pg_catalog.text',
      ),
    ).toEqual([]);
  });

  it('set_not_null: on a table with rows or unknown, not on an empty one or one created in the file', async () => {
    expect(await rules('ALTER TABLE t ALTER COLUMN a SET NOT NULL')).toEqual(['set_not_null t.a']);
    expect(await rules('ALTER TABLE t ALTER COLUMN a SET NOT NULL', { tableHasRows: (t) => t === 'public.t' })).toEqual(
      ['set_not_null t.a'],
    );
    expect(await rules('ALTER TABLE t ALTER COLUMN a SET NOT NULL', empty)).toEqual([]);
    expect(await rules('CREATE TABLE t (a int); ALTER TABLE t ALTER COLUMN a SET NOT NULL')).toEqual([]);
    expect(await rules('ALTER TABLE t ALTER COLUMN a DROP NOT NULL')).toEqual([]);
  });

  it('set_not_null: ADD COLUMN NOT NULL without a default on a filled table', async () => {
    const [f] = await lint('ALTER TABLE s.t ADD COLUMN a int NOT NULL');
    expect([f!.rule, f!.object, f!.message]).toEqual([
      'set_not_null',
      's.t.a',
      'adds s.t.a NOT NULL without a default (fails: the existing rows of s.t would hold NULL)',
    ]);
    expect(await rules('ALTER TABLE t ADD COLUMN a int NOT NULL', empty)).toEqual([]);
    expect(
      await rules(
        'ALTER TABLE t ADD COLUMN a int DEFAULT 0 NOT NULL, ADD COLUMN b int, ' +
          'ADD COLUMN c bigserial NOT NULL, ADD COLUMN d int GENERATED ALWAYS AS IDENTITY',
      ),
    ).toEqual([]);
  });

  it('rename: table, column, constraint, index', async () => {
    expect(
      await rules(
        'ALTER TABLE a RENAME COLUMN c TO d; ALTER TABLE a RENAME CONSTRAINT e TO f; ' +
          'ALTER TABLE a RENAME TO b; ALTER INDEX s.i RENAME TO j',
      ),
    ).toEqual(['rename a.c', 'rename a.e', 'rename a', 'rename s.i']);
    expect((await lint('ALTER TABLE a RENAME COLUMN c TO d'))[0]!.message).toBe(
      'renames column a.c to d (code that still uses the old name fails)',
    );
    expect(await rules("ALTER TYPE e RENAME VALUE 'a' TO 'b'; ALTER TABLE a ADD COLUMN x text")).toEqual([]);
  });

  it('delete_without_where, also inside a WITH', async () => {
    expect(await rules('DELETE FROM s.a')).toEqual(['delete_without_where s.a']);
    expect(await rules('WITH gone AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM gone')).toEqual([
      'delete_without_where a',
    ]);
    expect(await rules('DELETE FROM a WHERE id = 1; DELETE FROM a USING b WHERE a.id = b.id')).toEqual([]);
  });

  it('update_without_where', async () => {
    const [f] = await lint('UPDATE a SET x = 1, y = 2');
    expect([f!.rule, f!.message]).toEqual(['update_without_where', 'overwrites x, y in every row of a']);
    expect(await rules('UPDATE users SET email = lower(email) WHERE email <> lower(email)')).toEqual([]);
  });

  it('drop_schema and drop_type, even with IF EXISTS', async () => {
    expect(await rules('DROP SCHEMA IF EXISTS s CASCADE; DROP TYPE IF EXISTS public.e')).toEqual([
      'drop_schema s',
      'drop_type public.e',
    ]);
    expect(await rules("CREATE SCHEMA s; CREATE TYPE e AS ENUM ('a'); DROP FUNCTION f()")).toEqual([]);
  });

  it('skips DO blocks and CREATE statements silently', async () => {
    expect(
      await rules(
        'DO $$ BEGIN DROP TABLE a; DELETE FROM b; END $$; CREATE TABLE c (id int NOT NULL); CREATE INDEX i ON c (id)',
      ),
    ).toEqual([]);
  });
});

describe('-- upkit:safe in lint', () => {
  it('lists a reviewed statement with its reason; blocking() keeps only the others', async () => {
    const findings = await lint(
      '-- upkit:safe legacy_flag was unused since v1.2\nALTER TABLE users DROP COLUMN ' +
        'legacy_flag;\n-- upkit:safe two lines before does not count\n\nDROP TABLE old;',
    );
    expect(findings.map((f) => [f.line, f.rule, f.safe, f.statement])).toEqual([
      [2, 'drop_column', 'legacy_flag was unused since v1.2', 'ALTER TABLE users DROP COLUMN legacy_flag'],
      [5, 'drop_table', null, 'DROP TABLE old'],
    ]);
    expect(blocking(findings).map((f) => f.object)).toEqual(['old']);
  });

  it('trims the statement to its first line, at most 120 characters', async () => {
    const [f] = await lint(`-- a comment\nUPDATE t SET ${'x'.repeat(200)} = 1\n  , y = 2`);
    expect(f!.statement).toBe(`UPDATE t SET ${'x'.repeat(200)}`.slice(0, 120));
  });
});
