// A plain drizzle app's folder (not Pulse's): journal entries, their SQL and, for the newest,
// drizzle-kit's snapshot (version 7) of what they build.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface AppMigration {
  tag: string;
  sql: string;
}

/** Writes (or rewrites) the folder with these entries; `snapshot`: the newest entry's snapshot body. */
export function writeAppFolder(
  migrations: readonly AppMigration[],
  snapshot: Record<string, unknown>,
  dir = mkdtempSync(path.join(tmpdir(), 'upkit-app-')),
): string {
  mkdirSync(path.join(dir, 'meta'), { recursive: true });
  const entries = migrations.map((m, idx) => ({
    idx,
    version: '7',
    when: Date.parse('2026-01-01T00:00:00.000Z') + idx * 60_000,
    tag: m.tag,
    breakpoints: true,
  }));
  for (const m of migrations) writeFileSync(path.join(dir, `${m.tag}.sql`), m.sql);
  writeFileSync(
    path.join(dir, 'meta', '_journal.json'),
    JSON.stringify({ version: '7', dialect: 'postgresql', entries }, null, 2),
  );
  const prefix = migrations.at(-1)!.tag.split('_')[0]!;
  writeFileSync(
    path.join(dir, 'meta', `${prefix}_snapshot.json`),
    JSON.stringify(
      {
        version: '7',
        dialect: 'postgresql',
        id: '00000000-0000-0000-0000-000000000000',
        prevId: '',
        tables: {},
        enums: {},
        schemas: {},
        sequences: {},
        views: {},
        policies: {},
        roles: {},
        ...snapshot,
      },
      null,
      2,
    ),
  );
  return dir;
}

export function column(
  name: string,
  type: string,
  extra: Record<string, unknown> = {},
): [string, Record<string, unknown>] {
  return [name, { name, type, primaryKey: false, notNull: false, ...extra }];
}

export function table(
  schema: string,
  name: string,
  columns: Array<[string, Record<string, unknown>]>,
  extra: Record<string, unknown> = {},
): [string, Record<string, unknown>] {
  return [
    `${schema}.${name}`,
    {
      name,
      schema: schema === 'public' ? '' : schema,
      columns: Object.fromEntries(columns),
      indexes: {},
      foreignKeys: {},
      compositePrimaryKeys: {},
      uniqueConstraints: {},
      policies: {},
      checkConstraints: {},
      isRLSEnabled: false,
      ...extra,
    },
  ];
}
