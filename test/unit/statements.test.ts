import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UpkitError } from '../../lib/errors.ts';
import { parseSqlFile } from '../../lib/sql/statements.ts';
import type { ParsedStatement } from '../../lib/sql/statements.ts';
import { ROOT } from '../support/cli.ts';

const drizzle = (sql: string) => parseSqlFile(sql, { file: 'm.sql', breakpoints: true });
const legacy = (sql: string) => parseSqlFile(sql, { file: 'l.sql', breakpoints: false });

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

async function parseRepo(): Promise<Map<string, ParsedStatement[]>> {
  const all = new Map<string, ParsedStatement[]>();
  for (const f of repoFiles()) all.set(f.file, await parseSqlFile(f.text, f));
  return all;
}

async function syntaxError(p: Promise<unknown>): Promise<UpkitError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpkitError);
  return err as UpkitError;
}

describe('parseSqlFile on the files of this repo', () => {
  it('parses every drizzle and legacy file, statement counts as written', async () => {
    const counts = Object.fromEntries([...(await parseRepo())].map(([file, st]) => [file, st.length]));
    expect(counts).toEqual({
      'drizzle/0000_init.sql': 41,
      'drizzle/0001_api_keys.sql': 6,
      'drizzle/0002_audit_logs.sql': 5,
      'drizzle/0003_integration_status_enum.sql': 7,
      'legacy-sql/comprehensive-upgrade.sql': 38,
      'legacy-sql/discovery-migration.sql': 12,
      'legacy-sql/email-case-insensitive-fix.sql': 4,
      'legacy-sql/feature-flags-migration.sql': 2,
      'legacy-sql/rbac-permissions-fix.sql': 12,
      'legacy-sql/upgrade.sql': 8,
    });
  });

  it('0002 CREATE INDEX CONCURRENTLY is the only non-transactional statement in the repo', async () => {
    const off = [...(await parseRepo())].flatMap(([file, st]) =>
      st.filter((s) => !s.transactional).map((s) => ({ file, line: s.line, kind: s.kind, ci: s.concurrentIndex })),
    );
    expect(off).toEqual([
      {
        file: 'drizzle/0002_audit_logs.sql',
        line: 14,
        kind: 'IndexStmt',
        ci: { name: 'audit_logs_organization_created_idx', table: 'audit_logs', schema: null, action: 'create' },
      },
    ]);
  });

  it('gives the file lines of known statements, and sql/offset that point into the file', async () => {
    const all = await parseRepo();
    const e0003 = all.get('drizzle/0003_integration_status_enum.sql')!;
    expect(e0003.map((s) => `${s.line}:${s.column} ${s.kind}`)).toEqual([
      '1:1 CreateEnumStmt',
      '7:1 DoStmt',
      '21:1 AlterTableStmt',
      '23:1 AlterTableStmt',
      '24:1 AlterTableStmt',
      '25:1 AlterTableStmt',
      '26:1 AlterTableStmt',
    ]);
    expect(e0003[3]!.safe).toBe(
      "the type change keeps every value; those outside the enum were recorded above and become 'error'",
    );
    expect(e0003.filter((s) => s.safe !== undefined)).toHaveLength(1);
    const email = all.get('legacy-sql/email-case-insensitive-fix.sql')!;
    expect(email.map((s) => `${s.line} ${s.kind}`)).toEqual([
      '8 DoStmt',
      '26 UpdateStmt',
      '28 AlterTableStmt',
      '29 IndexStmt',
    ]);
    for (const f of repoFiles()) {
      for (const s of all.get(f.file)!) {
        expect(f.text.slice(s.offset, s.offset + s.sql.length)).toBe(s.sql);
        expect(s.sql).not.toContain('statement-breakpoint');
      }
    }
  });

  it('lists the tables a statement touches, deduped, without WITH names', async () => {
    const rbac = (await parseRepo()).get('legacy-sql/rbac-permissions-fix.sql')!;
    expect(rbac.find((s) => s.line === 52)!.relations).toEqual(['permissions', 'role_permissions', 'roles']);
    const [a, b, c] = await legacy(
      'DROP TABLE s.a, b; INSERT INTO t SELECT * FROM u JOIN s.v ON true JOIN ' +
        'u u2 ON true; ALTER TABLE "x" ADD FOREIGN KEY (y) REFERENCES public.z(id)',
    );
    expect(a!.relations).toEqual(['s.a', 'b']);
    expect(b!.relations).toEqual(['t', 'u', 's.v']);
    expect(c!.relations).toEqual(['x', 'public.z']);
  });
});

describe('parseSqlFile splitting', () => {
  it('splits drizzle files on the breakpoint, then by the parser, skipping empty chunks', async () => {
    const text =
      'CREATE TABLE a (id int);--> statement-breakpoint\n-- only a comment\n--> ' +
      'statement-breakpoint\n\nSELECT 1; SELECT 2;\n--> statement-breakpoint\n';
    const st = await drizzle(text);
    expect(st.map((s) => [s.index, s.line, s.column, s.sql])).toEqual([
      [0, 1, 1, 'CREATE TABLE a (id int)'],
      [1, 5, 1, '\n\nSELECT 1'],
      [2, 5, 11, ' SELECT 2'],
    ]);
    expect(st[1]!.offset).toBe(text.indexOf('\n\nSELECT 1'));
  });

  it('does not split legacy files on the breakpoint text', async () => {
    expect(await legacy('SELECT 1;\n--> statement-breakpoint\nSELECT 2;')).toHaveLength(2);
    expect((await legacy('SELECT 1;\n--> statement-breakpoint\nSELECT 2;'))[1]!.line).toBe(3);
  });

  it('points line and column at the first token, past line and nested block comments', async () => {
    const [, b] = await legacy(
      'SELECT 1;\n-- why\n/* outer /* inner */ still comment */\n   UPDATE t SET a = 1 WHERE a = 2;',
    );
    expect([b!.line, b!.column, b!.kind]).toEqual([4, 4, 'UpdateStmt']);
  });

  it('counts characters, not UTF-8 bytes, after non-ASCII text', async () => {
    const text = "-- héllo wörld 😀\nSELECT 'ü€';\nCREATE INDEX CONCURRENTLY i ON t (a);";
    const st = await legacy(text);
    expect(st.map((s) => [s.line, s.column])).toEqual([
      [2, 1],
      [3, 1],
    ]);
    expect(st[1]!.sql).toBe('\nCREATE INDEX CONCURRENTLY i ON t (a)');
    expect(text.slice(st[1]!.offset).startsWith(st[1]!.sql)).toBe(true);
    const chunked = await drizzle("SELECT 'ä';--> statement-breakpoint\nSELECT 'ö'; SELECT 'ß';");
    expect(chunked.map((s) => [s.line, s.column, s.sql.trim()])).toEqual([
      [1, 1, "SELECT 'ä'"],
      [2, 1, "SELECT 'ö'"],
      [2, 13, "SELECT 'ß'"],
    ]);
  });
});

describe('-- upkit:safe', () => {
  it('counts only on the line right before the first token, and needs a reason', async () => {
    const st = await legacy(
      '-- upkit:safe the table is empty\nDROP TABLE a;\n-- upkit:safe too far\n\n' +
        'DROP TABLE b;\n-- upkit:safe reviewed\n-- another comment\nDROP TABLE c;\n-- ' +
        'upkit:safe\nDROP TABLE d;\n  --   upkit:safe  spaced out  \n  DROP TABLE e;',
    );
    expect(st.map((s) => s.safe)).toEqual(['the table is empty', undefined, undefined, undefined, 'spaced out']);
  });
});

describe('transactional', () => {
  it('is false for statements PostgreSQL refuses in a transaction block', async () => {
    const st = await legacy(
      'CREATE INDEX CONCURRENTLY i ON s.t (a); DROP INDEX CONCURRENTLY s.j; REINDEX TABLE CONCURRENTLY t; ' +
        "VACUUM t; ALTER SYSTEM SET work_mem = '8MB'; CREATE TABLESPACE ts LOCATION '/tmp/ts'; " +
        'CREATE DATABASE d; DROP DATABASE d; CREATE INDEX k ON t (a); ANALYZE t; SELECT 1',
    );
    expect(st.map((s) => s.transactional)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
    expect(st.slice(0, 3).map((s) => s.concurrentIndex)).toEqual([
      { name: 'i', table: 't', schema: 's', action: 'create' },
      { name: 'j', table: '', schema: 's', action: 'drop' },
      { name: null, table: 't', schema: null, action: 'reindex' },
    ]);
  });

  it('runs ALTER TYPE … ADD VALUE on its own when a later statement uses the value', async () => {
    const [add] = await drizzle(
      "ALTER TYPE public.status ADD VALUE IF NOT EXISTS 'archived';--> " +
        "statement-breakpoint\nUPDATE items SET state = 'archived' WHERE old;",
    );
    expect(add!.transactional).toBe(false);
    expect(add!.addsEnumValue).toEqual({ type: 'status', schema: 'public', value: 'archived', ifNotExists: true });
    const [byType] = await legacy(
      "ALTER TYPE status ADD VALUE 'x'; ALTER TABLE t ALTER COLUMN c TYPE public.status USING c::text::public.status;",
    );
    expect(byType!.transactional).toBe(false);
  });

  it(
    'keeps it in the transaction when the type was ' + 'created earlier in the file, or nothing uses the value',
    async () => {
      const created = await legacy(
        "CREATE TYPE status AS ENUM ('a'); ALTER TYPE status ADD VALUE 'b'; UPDATE t SET s = 'b' WHERE true;",
      );
      expect(created[1]!.transactional).toBe(true);
      const unused = await legacy("ALTER TYPE status ADD VALUE 'b'; UPDATE t SET s = 'c' WHERE true;");
      expect(unused[0]!.transactional).toBe(true);
      const before = await legacy("UPDATE t SET s = 'b' WHERE true; ALTER TYPE status ADD VALUE 'b';");
      expect(before[1]!.transactional).toBe(true);
    },
  );
});

describe('syntax errors', () => {
  it('gives file:line:col of the offending token with the line and a caret', async () => {
    const err = await syntaxError(
      parseSqlFile('CREATE TABLE a (id int);--> statement-breakpoint\nSELECT 1;\n  SELEC 2;', {
        file: 'drizzle/0009_x.sql',
        breakpoints: true,
      }),
    );
    expect(err.message).toBe('drizzle/0009_x.sql:3:3: syntax error at or near "SELEC"');
    expect(err.details).toEqual(['3 |   SELEC 2;', '      ^']);
    expect(err.code).toBe('sql.syntax');
    expect(err.exit).toBe('refused');
    expect(err.hint).toBe('fix the SQL in drizzle/0009_x.sql; nothing was changed');
  });

  it('stays right after non-ASCII text and at the end of input', async () => {
    const err = await syntaxError(legacy("SELECT 'ünïcødé 😀';\nSELECT 1 FROM t WHERE x = 'é' AND;"));
    expect(err.message).toBe('l.sql:2:34: syntax error at or near ";"');
    expect(err.details[1]).toBe(`${' '.repeat(4 + 33)}^`);
    const eof = await syntaxError(legacy('SELECT 1;\nSELECT 1 FROM'));
    expect(eof.message).toBe('l.sql:2:14: syntax error at end of input');
  });
});
