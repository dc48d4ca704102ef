// Catalogue cases (test/failures/hardening/refusals.ts, docs/FAILURES.md): hand-made objects
// and data a pending step would reject, found by the plan (read-only, in the dry run too) and
// refused before anything is recorded, naming the objects and the SQL that clears them.
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withClientAt } from '../support/database.ts';
import { drizzleFolderWith } from '../support/drizzleFolders.ts';
import { asRelease, type FixtureRelease } from '../support/releases.ts';

const VIEW = `create view active_integrations as select id, name, status from aws_integrations where status = 'active'`;

describe('failure catalogue: refusals before the first write (objects and data)', backupTests(), () => {
  const db = useFreshDatabase();

  /** Builds the release, makes the case's hand edits, runs it and checks that nothing changed, not even upkit.runs. */
  async function refused(
    id: string,
    release: FixtureRelease,
    edits: string[],
    vars: Record<string, string | number> = {},
  ): Promise<void> {
    await asRelease(db(), release);
    await withClientAt(db().url, async (c) => {
      for (const sql of edits) await c.query(sql);
    });
    const c = failureCase(id);
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, backups: tempDir('upkit-case-bk-'), ...vars });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await runsOf(db().url)).toEqual([]);
  }

  it('data.view-on-retyped-column', () => refused('data.view-on-retyped-column', 'v2.1', [VIEW]));

  it('data.view-on-retyped-column-dry-run', () => refused('data.view-on-retyped-column-dry-run', 'v2.1', [VIEW]));

  it('data.not-null-dropped', () =>
    refused('data.not-null-dropped', 'v1.2', [
      'alter table users alter column role drop not null',
      'update users set role = null where id in (select id from users order by id limit 2)',
    ]));

  it('data.not-null-dropped-drizzle', () =>
    refused('data.not-null-dropped-drizzle', 'v2.1', [
      'alter table aws_integrations alter column organization_id drop not null',
      `update aws_integrations set organization_id = null, ` +
        `status = 'broken' where id = (select id from aws_integrations order by id limit 1)`,
    ]));

  it('data.half-applied-release', () =>
    refused('data.half-applied-release', 'v1.3', [
      `create table discovery_sessions (id uuid primary key default gen_random_uuid(), ` +
        `organization_id uuid not null references organizations (id) on delete cascade,
                                        name varchar(255) not null, created_at timestamptz default now() not null)`,
    ]));

  it('data.duplicates-unique-index', async () => {
    const dir = drizzleFolderWith({
      tag: '0004_unique_names',
      when: Date.parse('2026-06-01T00:00:00.000Z'),
      sql:
        'CREATE UNIQUE INDEX "configurations_org_name_idx" ON ' +
        '"configurations" USING btree ("organization_id", lower("name"));',
    });
    await asRelease(db(), 'v2.2');
    const orgs = await withClientAt(db().url, async (c) => {
      const ids = (await c.query<{ id: string }>(`select id from organizations order by id limit 2`)).rows.map(
        (r) => r.id,
      );
      await c.query(
        `insert into configurations (organization_id, name) values ($1, 'service-a.yaml'), ` +
          `($1, 'Service-A.yaml'), ($2, 'service-b.yaml'), ($2, 'SERVICE-B.yaml')`,
        ids,
      );
      return ids;
    });
    const c = failureCase('data.duplicates-unique-index');
    const before = await dbState(db().url);
    const r = await runCase(c, {
      url: db().url,
      dir,
      backups: tempDir('upkit-case-bk-'),
      first: orgs[0]!,
      second: orgs[1]!,
    });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await runsOf(db().url)).toEqual([]);
  });

  it('data.nulls-before-set-not-null', () => {
    const dir = drizzleFolderWith({
      tag: '0004_name_required',
      when: Date.parse('2026-06-01T00:00:00.000Z'),
      sql: 'ALTER TABLE "users" ALTER COLUMN "name" SET NOT NULL;',
    });
    return refused(
      'data.nulls-before-set-not-null',
      'v2.2',
      ['update users set name = null where id in (select id from users order by id limit 3)'],
      { dir },
    );
  });

  it('lets a migration that clears its own way run: a view it drops first, NULLs it fills first', async () => {
    await asRelease(db(), 'v2.3');
    await withClientAt(db().url, async (c) => {
      await c.query(
        `create table notes (id int primary key, body varchar(10), ` +
          `title varchar(10)); insert into notes values (1, 'a', null), (2, 'b', 'x')`,
      );
      await c.query(`create view notes_v as select body from notes`);
    });
    const dir = drizzleFolderWith({
      tag: '0004_notes',
      when: Date.parse('2026-06-01T00:00:00.000Z'),
      sql: [
        'DROP VIEW "notes_v";',
        'ALTER TABLE "notes" ALTER COLUMN "body" SET DATA TYPE text;',
        'CREATE VIEW "notes_v" AS SELECT "body" FROM "notes";',
        `UPDATE "notes" SET "title" = '' WHERE "title" IS NULL;`,
        'ALTER TABLE "notes" ALTER COLUMN "title" SET NOT NULL;',
      ].join('--> statement-breakpoint\n'),
    });
    const r = await runUpkit('upgrade.ts', ['--yes', '--allow-destructive', '--drizzle-dir', dir], {
      env: { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-bk-') },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(await withClientAt(db().url, (c) => c.query(`select title from notes order by id`))).toMatchObject({
      rows: [{ title: '' }, { title: 'x' }],
    });
  });
});
