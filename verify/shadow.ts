// The expected schema is what the migrations build (DESIGN.md): the journal replayed into a
// scratch database on the same server (a shadow database), the way upkit applies it, read
// with the very catalog queries verify runs on the live database, then dropped. What the
// server sent is cached by the hash of the journal and every migration file (and the server
// major and the catalog queries), in a private file, so that the next verify builds nothing.
// Where the shadow cannot be had (no CREATEDB, --no-shadow, an extension missing, a replay
// error), the last snapshot serves and the report says why; a snapshot that disagrees with
// the replay is one warning for the app's developers, never an error for the operator.
import path from 'node:path';
import type { Client } from 'pg';
import { createDatabaseLike, freeName, readDatabaseFacts, targetFor } from '../lib/backup/restoreDb.ts';
import { newMarker, serverIdentifier, writeMarker } from '../lib/backup/leftovers.ts';
import { holdExit } from '../lib/backup/cleanup.ts';
import type { Config } from '../lib/config.ts';
import { withClient } from '../lib/db.ts';
import type { Logger } from '../lib/log.ts';
import { psqlCommand } from '../lib/backup/swap.ts';
import { sqlIdent, shellQuote } from '../lib/quote.ts';
import { scratchLeftovers } from '../lib/rehearse.ts';
import { displayPath } from '../lib/content.ts';
import { mapCatalog, type CatalogRows } from './catalog.ts';
import { compareSchema } from './compareSchema.ts';
import type { VerifyFiles } from './engine.ts';
import { finding, type ActualSchema, type ExpectedSchema, type SchemaSpec, type VerifyFinding } from './model.ts';
import { CACHE_FORMAT, readCache, shadowCacheDir, shadowKey, writeCache } from './shadowCache.ts';
import {
  extensionsCreated,
  replay,
  ReplayFailed,
  replayHint,
  statementsOf,
  type ParsedMigrations,
} from './shadowReplay.ts';
import { readSnapshot } from './snapshot.ts';
import { expressionParserReady } from './sqlExpression.ts';

export interface ShadowOptions {
  /** May create a scratch database when no cached replay fits (false: `--no-shadow`). */
  build: boolean;
  signal?: AbortSignal;
  log?: Pick<Logger, 'info' | 'warn' | 'debug'>;
  now?: Date;
}

interface ServerFacts {
  versionNum: number;
  user: string;
  mayCreate: boolean;
  /** The session's search_path as pinned (the replay's session pins the same). */
  searchPath: string;
  /** Extensions of the live database (name, schema): created in the shadow first when no migration creates them. */
  extensions: Array<{ name: string; schema: string }>;
}

async function readFacts(c: Pick<Client, 'query'>): Promise<ServerFacts> {
  const { rows } = await c.query<{
    num: string;
    usr: string;
    ok: boolean;
    path: string;
    ext: Array<{ name: string; schema: string }> | null;
  }>(
    `select current_setting('server_version_num') as num, current_user as usr, current_setting('search_path') as path,
            (select rolcreatedb or rolsuper from pg_roles where rolname = current_user) as ok,
            (select json_agg(json_build_object('name', e.extname, 'schema', n.nspname) order by e.extname)
               from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname <> 'plpgsql') as ext`,
  );
  const r = rows[0]!;
  return {
    versionNum: Number(r.num),
    user: r.usr,
    mayCreate: r.ok === true,
    searchPath: r.path,
    extensions: r.ext ?? [],
  };
}

/** The catalog of a shadow database as the expected schema (indexes that back constraints are compared as those). */
export function specFromCatalog(a: ActualSchema, alsoSchemas: readonly string[] = []): SchemaSpec {
  const tables = a.tables.map((t) => ({ ...t, indexes: t.indexes.filter((i) => !i.constraint) }));
  const schemaOf = (q: string) => q.slice(0, q.indexOf('.'));
  const schemas = new Set([
    'public',
    ...alsoSchemas,
    ...tables.map((t) => t.schema),
    ...a.enums.map((e) => e.schema),
    ...a.sequences.map(schemaOf),
    ...a.views.map(schemaOf),
  ]);
  return {
    schemas: [...schemas].sort(),
    tables,
    enums: a.enums,
    sequences: a.sequences,
    views: a.views,
    knownTriggers: (a.triggers ?? []).filter((t) => !t.internal).map((t) => `${t.schema}.${t.table}.${t.name}`),
    knownCollations: (a.collations ?? []).map((c) => `${c.schema}.${c.table}.${c.column} ${c.collation}`),
  };
}

function fromSnapshot(reason: string, hint: string): ExpectedSchema {
  return {
    source: 'snapshot',
    findings: [
      finding('schema', 'info', 'verify.expected_schema', `expected schema from the snapshot: ${reason}`, hint),
    ],
  };
}

const UNSAID = new Set(['schema.fk_not_valid', 'schema.check_not_valid', 'schema.extra_trigger']);

/** One warning, for the app's developers, naming what the last snapshot says otherwise than the replay. */
export async function snapshotDisagreement(
  files: VerifyFiles,
  replayed: ActualSchema,
): Promise<VerifyFinding | undefined> {
  let snapshot: SchemaSpec;
  try {
    snapshot = readSnapshot(files.drizzleDir, files.entry);
  } catch {
    return undefined;
  }
  await expressionParserReady();
  // What a snapshot cannot say (NOT VALID, triggers) is no disagreement.
  const diffs = compareSchema(snapshot, replayed).filter((d) => !UNSAID.has(d.code));
  if (!diffs.length) return undefined;
  const shown = diffs.map((d) =>
    d.message
      .replace(/: added by hand\?$/, '')
      .replace(/ is not in the snapshot$/, ' is built but not in the snapshot'),
  );
  const file = displayPath(files.snapshotFile);
  return finding(
    'schema',
    'warning',
    'snapshot.disagrees',
    `for the app's developers: ${file} disagrees with what the migrations up ` +
      `to ${files.entry.tag} build (${diffs.length} difference${diffs.length === 1 ? '' : 's'}; ` +
      `"expected" is what the snapshot says): ${shown.join('; ')}`,
    `nothing to do for the database: verify compares it with what the migrations build; the app's developers ` +
      `can bring the snapshot in line (npx drizzle-kit generate, or a migration that makes what the snapshot says)`,
  );
}

async function fromReplay(files: VerifyFiles, rows: CatalogRows, how: string): Promise<ExpectedSchema> {
  const replayed = mapCatalog(...rows);
  let snapshotSchemas: string[] = [];
  try {
    snapshotSchemas = readSnapshot(files.drizzleDir, files.entry).schemas;
  } catch {
    // A missing or unreadable snapshot is loadVerifyFiles' to report.
  }
  const disagrees = await snapshotDisagreement(files, replayed);
  const info = finding(
    'schema',
    'info',
    'verify.expected_schema',
    `expected schema from the migrations: ${files.migrations.filter((m) => m.idx <= files.entry.idx).length}` +
      ` replayed into a scratch database on this server (${how})`,
  );
  return {
    spec: specFromCatalog(replayed, snapshotSchemas),
    source: 'replay',
    findings: [info, ...(disagrees ? [disagrees] : [])],
  };
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      onAbort();
      reject(signal.reason instanceof Error ? signal.reason : new Error('interrupted'));
    };
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

async function dropQuietly(c: Pick<Client, 'query'>, name: string): Promise<void> {
  await c.query(`drop database if exists ${sqlIdent(name)} with (force)`);
}

/**
 * Creates the shadow database (named and marked like a rehearsal's scratch database, so that
 * one left by a killed run is proven upkit's and dropped by the next), replays, reads, drops.
 */
async function buildShadow(
  config: Config,
  c: Client,
  files: VerifyFiles,
  parsed: ParsedMigrations,
  preinstall: ServerFacts['extensions'],
  versionNum: number,
  options: ShadowOptions,
  leftovers: VerifyFinding[],
): Promise<CatalogRows> {
  const live = config.migrationDb.database;
  // From here to the drop, Ctrl-C waits for the drop (lib/cli.ts asks exitHeld()).
  const release = holdExit();
  try {
    return await createReplayDrop(config, c, files, parsed, preinstall, versionNum, options, leftovers, live);
  } finally {
    release();
  }
}

async function createReplayDrop(
  config: Config,
  c: Client,
  files: VerifyFiles,
  parsed: ParsedMigrations,
  preinstall: ServerFacts['extensions'],
  versionNum: number,
  options: ShadowOptions,
  leftovers: VerifyFinding[],
  live: string,
): Promise<CatalogRows> {
  for (const l of await scratchLeftovers(config, 'shadow')) {
    if (l.gone) {
      await dropQuietly(c, l.name);
      const message =
        `dropped ${l.name}, a shadow database left by a run that was ` +
        `stopped (pid ${l.marker!.pid} on ${l.marker!.host} no longer runs)`;
      leftovers.push(finding('schema', 'info', 'shadow.leftover_dropped', message));
      options.log?.info(message);
    } else {
      leftovers.push(
        finding(
          'schema',
          'warning',
          'shadow.leftover',
          `${l.name} looks like a shadow database of upkit's, but upkit cannot prove it ` +
            `made it on this host for this server (no marker, another host, or sessions in it)`,
          `if nothing uses it, drop it: ` +
            `${psqlCommand(config.migrationDb, [`DROP DATABASE IF EXISTS ${sqlIdent(l.name)} WITH (FORCE)`])}`,
        ),
      );
    }
  }
  const server = await serverIdentifier(c);
  const name = await freeName(c, live, 'shadow', options.now ?? new Date());
  const facts = await readDatabaseFacts(c, live);
  const { rows } = await c.query<{ usr: string }>('select current_user as usr');
  if (options.signal?.aborted) throw options.signal.reason;
  await createDatabaseLike(
    c,
    name,
    facts && { ...facts, owner: rows[0]!.usr, tablespace: 'pg_default', connectionLimit: -1 },
  );
  try {
    await writeMarker(c, name, { ...newMarker(live, server, `shadow of ${files.drizzleDir}`) });
    options.log?.debug(`shadow database ${name}: replaying ${parsed.length} migrations`);
    const work = withClient(targetFor(config, name), config, (s) => replay(s, parsed, preinstall, versionNum), {
      applicationName: 'upkit shadow',
    });
    work.catch(() => {});
    // On Ctrl-C the database is dropped at once (FORCE ends the replay's session).
    return await untilAborted(work, options.signal, () => void dropQuietly(c, name).catch(() => {}));
  } finally {
    await dropQuietly(c, name).catch((err: unknown) => {
      options.log?.warn(
        `the shadow database ${name} could not be dropped (${(err as Error).message}); drop it by hand: ` +
          `${psqlCommand(config.migrationDb, [`DROP DATABASE IF EXISTS ${sqlIdent(name)} WITH (FORCE)`])}`,
      );
    });
  }
}

/**
 * The expected schema of an app's drizzle folder: the cached replay, else a replay built now
 * when `options.build` and the role may create a database, else the snapshot, saying why.
 * Never throws for a shadow that cannot be had; an interruption is passed on.
 */
export async function expectedSchemaFor(
  config: Config,
  files: VerifyFiles,
  options: ShadowOptions,
): Promise<ExpectedSchema> {
  const cacheHint =
    'to compare with what the migrations build, run verify once as a role that ' +
    'may create databases (CREATEDB), or upgrade with one: the replay is cached';
  const roleHint =
    'run verify once as the role that runs the migrations (with CREATEDB): the replay is cached for every later verify';
  const snapshot = (reason: string, hint = cacheHint) => fromSnapshot(reason, hint);
  let parsed: ParsedMigrations;
  try {
    parsed = await statementsOf(files);
  } catch (err) {
    return snapshot(`the migrations could not be parsed (${(err as Error).message})`, 'fix the SQL the message names');
  }
  const leftovers: VerifyFinding[] = [];
  try {
    return await withClient(
      config.migrationDb,
      config,
      async (c) => {
        const facts = await readFacts(c);
        const major = Math.floor(facts.versionNum / 10000);
        const created = extensionsCreated(parsed);
        const preinstall = facts.extensions.filter((e) => !created.has(e.name));
        const key = shadowKey(
          files,
          major,
          preinstall.map((e) => `${e.schema}.${e.name}`),
          { searchPath: facts.searchPath, user: facts.user },
        );
        const file = path.join(shadowCacheDir(), `${key}.json`);
        const cached = readCache(file, key);
        if (cached) return fromReplay(files, cached, `cached in ${file}`);
        if (!options.build)
          return snapshot(
            '--no-shadow was given and no replay of this journal is cached',
            'run without --no-shadow to replay the migrations into a ' +
              'scratch database (created and dropped; the result is cached)',
          );
        if (!facts.mayCreate)
          return snapshot(
            `role ${facts.user} may not create databases (no CREATEDB), ` +
              `so the migrations were not replayed into a scratch database`,
          );
        let rows: CatalogRows;
        try {
          rows = await buildShadow(config, c, files, parsed, preinstall, facts.versionNum, options, leftovers);
        } catch (err) {
          if (options.signal?.aborted) throw options.signal.reason;
          const why =
            err instanceof ReplayFailed
              ? `the migrations could not be replayed into a scratch database: ${err.message}`
              : `no scratch database could be made (${(err as Error).message})`;
          return snapshot(why, err instanceof ReplayFailed ? replayHint(err.sqlState, roleHint) : cacheHint);
        }
        try {
          writeCache(file, {
            format: CACHE_FORMAT,
            key,
            entry: files.entry.tag,
            builtAt: new Date().toISOString(),
            rows,
          });
        } catch (err) {
          options.log?.warn(
            `the replayed schema could not be cached in ${shellQuote(file)}` +
              ` (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the next verify builds it again`,
          );
        }
        return fromReplay(files, rows, 'built now, dropped, and cached');
      },
      { applicationName: 'upkit shadow' },
    ).then((e) => ({ ...e, findings: [...e.findings, ...leftovers] }));
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    return snapshot(`the server could not be asked for one (${(err as Error).message})`);
  }
}
