// What integration tests use: the run's server (from globalSetup) and a fresh database per test.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, inject } from 'vitest';
import type { ServerSource } from './serverSelection.ts';

export interface TestServerInfo {
  source: ServerSource;
  /** Superuser URL (TCP, password) to the `postgres` database. */
  adminUrl: string;
  majorVersion: number;
  /** e.g. `15.18`. */
  version: string;
  /** Where the server's binaries are, when they are on this machine (system, embedded). */
  binDir: string | null;
  /** Every fresh database is a copy of it. */
  templateDatabase: string;
  /**
   * Template database of each fixture release, built once per run by globalSetup: key
   * `v2.3` for the release with the SMALL data, `v2.3:schema` for its schema alone
   * (releaseTemplate() in releases.ts reads it).
   */
  releaseTemplates: Record<string, string>;
  /** Whether upkit can back this server up here, and with which pg_dump (backupCoverage). */
  backups: BackupCoverage;
}

/** The pg_dump upkit would choose for the test server (lib/backup/strategy.ts), or why none fits. */
export type BackupCoverage =
  | { testable: true; pgDump: { path: string; version: string; major: number } }
  | { testable: false; reason: string };

/** Test metadata the version matrix reads from vitest's JSON report. */
declare module '@vitest/runner' {
  interface TaskMeta {
    /** Why a test of backups was skipped (the server cannot be dumped here). */
    backupSkip?: string;
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    testServer: TestServerInfo;
  }
}

export interface TestDatabase {
  name: string;
  /** Connects to this database as the server's superuser. */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  adminUrl: string;
  /** Idempotent; forces off any session still connected. */
  drop(): Promise<void>;
}

export function serverInfo(): TestServerInfo {
  const info = inject('testServer');
  if (!info) {
    throw new Error(
      'No test server was provided: run integration tests through vitest --project integration, ' +
        'whose globalSetup (test/support/globalSetup.ts) starts it.',
    );
  }
  return info;
}

/** Whether upkit can take a backup of the test server on this machine. */
export function backupsTestable(): boolean {
  return serverInfo().backups.testable;
}

/**
 * Flags for an upgrade whose subject is not the backup: none where upkit can back the server
 * up, else `--no-backup`, so the upgrade is still tested on a server no pg_dump here can dump.
 */
export function backupArgs(): string[] {
  return backupsTestable() ? [] : ['--no-backup'];
}

/**
 * Options for a `describe` or `it` whose subject is a backup (taking, restoring, rehearsing
 * on one): skipped where no pg_dump on this machine can dump the server, with the reason in
 * the test's metadata, where the version matrix finds, counts and states it.
 *   describe('restore', backupTests(), () => { ... })
 */
export function backupTests(): { skip?: boolean; meta?: { backupSkip: string } } {
  const { backups } = serverInfo();
  return backups.testable ? {} : { skip: true, meta: { backupSkip: backups.reason } };
}

function urlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** A superuser session on the server (database `postgres` unless named), ended afterwards. */
export async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const { adminUrl } = serverInfo();
  const client = new pg.Client({ connectionString: database ? urlFor(adminUrl, database) : adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

let sequence = 0;

function uniqueName(): string {
  sequence += 1;
  return `upkit_t_${process.pid}_${sequence}_${randomBytes(3).toString('hex')}`;
}

/** A new database, a copy of `template` (by default the run's bare one), dropped by its drop(). */
export async function freshDatabase(template?: string): Promise<TestDatabase> {
  const info = serverInfo();
  const name = uniqueName();
  await withAdminClient((client) =>
    client.query(
      `CREATE DATABASE ${client.escapeIdentifier(name)}` +
        ` TEMPLATE ${client.escapeIdentifier(template ?? info.templateDatabase)}`,
    ),
  );
  const url = new URL(urlFor(info.adminUrl, name));
  let dropped = false;
  return {
    name,
    url: url.toString(),
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: name,
    adminUrl: info.adminUrl,
    async drop() {
      if (dropped) return;
      await withAdminClient((client) =>
        client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
      );
      dropped = true;
    },
  };
}

/** What in a database would not survive replaceWithCopy(), or would not be in a copy: one line each. */
async function notFresh(admin: pg.Client, db: TestDatabase): Promise<string[]> {
  const found: string[] = [];
  const { rows: sessions } = await admin.query<{ n: number }>(
    'select count(*)::int as n from pg_stat_activity where datname = $1',
    [db.name],
  );
  if (sessions[0]!.n > 0) found.push(`${sessions[0]!.n} open session(s)`);
  const { rows } = await admin.query<{
    settings: number;
    acl: string | null;
    owner: boolean;
    comment: string | null;
  }>(
    `select (select count(*)::int from pg_db_role_setting s where s.setdatabase = d.oid) as settings,
            d.datacl::text as acl, d.datdba = (select oid from pg_roles where rolname = current_user) as owner,
            shobj_description(d.oid, 'pg_database') as comment
       from pg_database d where d.datname = $1`,
    [db.name],
  );
  const d = rows[0];
  if (!d) found.push('no such database');
  else {
    if (d.settings) found.push('database-level settings (ALTER DATABASE ... SET)');
    if (d.acl) found.push(`database grants ${d.acl}`);
    if (!d.owner) found.push('another owner');
    if (d.comment !== null) found.push('a comment');
  }
  if (found.length) return found;
  await withAdminClient(async (client) => {
    const { rows } = await client.query<{ what: string }>(
      `select 'relation ' || n.nspname || '.' || c.relname as what
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
       union all
       select 'schema ' || nspname from pg_namespace
        where nspname not in ('pg_catalog', 'information_schema', ` +
        `'public') and nspname !~ '^pg_(toast|temp_|toast_temp_)'
       union all
       select 'extension ' || extname from pg_extension where extname <> 'plpgsql'
       union all
       select 'function ' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname not in ('pg_catalog', 'information_schema')
       union all
       select 'type ' || t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
          and t.typrelid = 0 and t.typelem = 0
       union all
       select 'grants on schema public' from pg_namespace n
        where n.nspname = 'public'
          and exists (select 1 from aclexplode(n.nspacl) ` +
        `a where a.grantee not in (0, 'pg_database_owner'::regrole::oid))`,
    );
    found.push(...rows.map((r) => r.what));
  }, db.name);
  return found;
}

/**
 * Makes a database that is still as freshDatabase() made it a copy of `template` under the
 * same name (drop, then CREATE DATABASE ... TEMPLATE): a test's database becomes a release
 * at the cost of a copy. Refuses a database the test already changed or has a session open
 * on: the copy would not keep that change.
 */
export async function replaceWithCopy(db: TestDatabase, template: string): Promise<void> {
  await withAdminClient(async (client) => {
    const found = await notFresh(client, db);
    if (found.length) {
      throw new Error(
        `replaceWithCopy(${db.name}): the database is no longer as freshDatabase() made it (${found.join(', ')}); ` +
          'build on it instead (buildRelease) or copy the template before changing it',
      );
    }
    // FORCE: the check's own session may not have quite ended yet.
    await client.query(`DROP DATABASE ${client.escapeIdentifier(db.name)} WITH (FORCE)`);
    await client.query(
      `CREATE DATABASE ${client.escapeIdentifier(db.name)} TEMPLATE ${client.escapeIdentifier(template)}`,
    );
  });
}

/**
 * Inside a `describe`: each test gets its own database, dropped after it whatever the outcome.
 * Call the returned function inside a test or hook to reach the current one.
 */
export function useFreshDatabase(): () => TestDatabase {
  let current: TestDatabase | undefined;
  beforeEach(async () => {
    current = await freshDatabase();
  });
  afterEach(async () => {
    const db = current;
    current = undefined;
    await db?.drop();
  });
  return () => {
    if (!current) {
      throw new Error(
        'useFreshDatabase(): call the returned function inside a test or hook, not while the describe is being defined',
      );
    }
    return current;
  };
}

/** A session on any database URL (notices silenced), ended afterwards. */
export async function withClientAt<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectTo(url);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** An open session on a database URL, notices silenced; the caller ends it. */
export async function connectTo(url: string, applicationName = 'upkit test'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  client.on('notice', () => {});
  return client;
}

/**
 * Rows, and an index that takes 0.05 s a row (30 s in all) to build in any database but this one: pg_restore is still
 * at it when the signal comes.
 */
export async function slowToIndex(db: TestDatabase): Promise<void> {
  await withClientAt(db.url, async (c) => {
    await c.query('create table notes (id int primary key, body text not null)');
    await c.query(`insert into notes select g, repeat('n', 200) from generate_series(1, 20000) g`);
    await c.query('create table slow_items (id int primary key)');
    await c.query('insert into slow_items select generate_series(1, 600)');
    await c.query(
      `create function slow(v int) returns int language plpgsql immutable as $$ begin if current_database() ` +
        `<> ${c.escapeLiteral(db.name)} then perform pg_sleep(0.05); end if; return v; end $$`,
    );
    await c.query('create index slow_items_slow on slow_items (slow(id))');
  });
}
