// verifyDatabase(): everything verification reads from a database, compared with the files,
// on a client the caller opened (the upgrade engine calls it inside its own transaction;
// the verify command inside `BEGIN TRANSACTION READ ONLY`). It only ever runs SELECTs, a
// fixed number of them whatever the size of the schema. The areas are exported one by one
// so that the command can time and show each as a step.
import { existsSync } from 'node:fs';
import type { Client } from 'pg';
import { readMigrations, readJournal, type DrizzleMigration, type JournalEntry } from '../lib/drizzle/journal.ts';
import { isUpkitError, UpkitError } from '../lib/errors.ts';
import { readLegacyManifest, type LegacyManifest } from '../lib/legacy/manifest.ts';
import { readCatalog, readServerInfo, type Relation, type ServerInfo } from './catalog.ts';
import { compareSchema } from './compareSchema.ts';
import {
  checkJournalOrder,
  compareDrizzleLedger,
  compareLegacyLedger,
  UPGRADE_HINT,
  type DrizzleLedgerRow,
  type LegacyLedgerRow,
} from './ledgers.ts';
import {
  finding,
  type ActualSchema,
  type Area,
  type ExpectedSchema,
  type SchemaFinding,
  type SchemaSpec,
  type VerifyFinding,
} from './model.ts';
import type { Profile } from '../lib/profileTypes.ts';
import { releaseFindings, type ReleaseResult } from './releaseCheck.ts';
import {
  readSeedState,
  SEED_COLUMNS,
  seedBlockers,
  seedFindings,
  type SeedExpectations,
  type SeedState,
} from './seed.ts';
import { checkRepeatable } from './repeatable.ts';
import { pickEntry, readSnapshot, snapshotPath } from './snapshot.ts';
import { expressionParserReady, loadExpressionParser } from './sqlExpression.ts';
import { tableRef } from './sqlText.ts';
import { sqlIdent } from '../lib/quote.ts';

type Queryable = Pick<Client, 'query'>;
export type DatabaseArea = Exclude<Area, 'runtime'>;

export interface VerifyOptions {
  /** The drizzle folder whose journal and snapshot the database is compared with. */
  drizzleDir: string;
  /** The journal entry (idx or tag) whose snapshot to compare with; default: the last. */
  snapshotEntry?: number | string;
  /** Legacy SQL folder whose files upkit.legacy_migrations is compared with; none: not checked. */
  legacyDir?: string;
  /** Seed data and release probes, where the profile has them (Pulse's); none: neither is checked. */
  profile?: Profile;
  /** Which areas to check; default all. */
  checks?: readonly DatabaseArea[];
  /** drizzle-orm's ledger table; default drizzle.__drizzle_migrations. */
  ledger?: { schema: string; table: string };
  /** For the journal's "in the future" check; default Date.now(). */
  now?: number;
  /**
   * An app's folder, whose expected schema may come from a replay: a missing snapshot is reported only when it is
   * needed.
   */
  snapshotOptional?: boolean;
  /** The expected schema when it is not the snapshot (a replay of the migrations: verify/shadow.ts). */
  expected?: ExpectedSchema;
}

export interface VerifyFiles {
  drizzleDir: string;
  entries: JournalEntry[];
  migrations: DrizzleMigration[];
  entry: JournalEntry;
  snapshotFile: string;
  /** The snapshot, once parsed (readState() parses it while the server reads the catalog), or the replayed schema. */
  expected?: SchemaSpec;
  /** Where `expected` comes from, and the findings that say so. */
  expectedFrom: ExpectedSchema['source'];
  expectedFindings: VerifyFinding[];
  legacy: LegacyManifest | undefined;
}

/** Compares with `expected` (a replay, or the snapshot with the reason it serves) from now on. */
export function useExpected(files: VerifyFiles, expected: ExpectedSchema | undefined): void {
  if (!expected) return;
  if (expected.spec) files.expected = expected.spec;
  files.expectedFrom = expected.source;
  files.expectedFindings = expected.findings;
}

/** The expected schema, parsed on first use (a folder problem is a usage error, exit 2). */
export function expectedSchema(files: VerifyFiles): SchemaSpec {
  try {
    files.expected ??= readSnapshot(files.drizzleDir, files.entry);
  } catch (err) {
    throw asUsage(err);
  }
  return files.expected;
}

export interface DatabaseState {
  server: ServerInfo;
  relations: Map<string, Relation>;
  catalog: ActualSchema;
  /** Tables (`schema.name`) left out of the catalog read: another session holds an exclusive lock on them. */
  unread?: ReadonlySet<string>;
}

/** Tables another session locks exclusively, left out of the catalog read (by oid) and of the comparison (by name). */
export interface Unread {
  oids: readonly number[];
  names: ReadonlySet<string>;
}

export interface VerifyResult {
  findings: VerifyFinding[];
  /** Milliseconds per area checked. */
  timings: Partial<Record<Area, number>>;
  server: ServerInfo;
  snapshot: { entry: string; file: string };
  /** What the database was compared with: the migrations replayed, or the snapshot. */
  expectedFrom: ExpectedSchema['source'];
  release: ReleaseResult;
  ledger: { applied: string[]; pending: string[] } | null;
  seed: SeedState | null;
  tables: number;
}

const ledgerOf = (o: Pick<VerifyOptions, 'ledger'>) => o.ledger ?? { schema: 'drizzle', table: '__drizzle_migrations' };
const LEGACY_LEDGER = 'upkit.legacy_migrations';

/** Problems with the folders are configuration problems (exit 2), not refusals. */
function asUsage(err: unknown): unknown {
  if (!isUpkitError(err) || err.exit === 'usage') return err;
  return new UpkitError({
    code: err.code,
    exit: 'usage',
    message: err.message,
    hint: err.hint,
    details: err.details,
    cause: err,
  });
}

export function loadVerifyFiles(options: VerifyOptions): VerifyFiles {
  // Parsing starts now so that the WebAssembly parser is ready by the time it is needed.
  void loadExpressionParser();
  try {
    const entries = readJournal(options.drizzleDir);
    const migrations = readMigrations(options.drizzleDir);
    const entry = pickEntry(entries, options.snapshotEntry, options.drizzleDir);
    const snapshotFile = snapshotPath(options.drizzleDir, entry);
    // An app's expected schema is its migrations replayed: its snapshot is needed only without one
    // (read, and said missing, when the replay cannot serve). A profile with a legacy era keeps its snapshots.
    const replayed = options.expected?.spec !== undefined;
    if (!existsSync(snapshotFile) && !replayed && (options.profile?.legacy || options.snapshotOptional !== true))
      readSnapshot(options.drizzleDir, entry);
    const files: VerifyFiles = {
      drizzleDir: options.drizzleDir,
      entries,
      migrations,
      entry,
      snapshotFile,
      expectedFrom: 'snapshot',
      expectedFindings: [],
      legacy: options.legacyDir ? readLegacyManifest(options.legacyDir) : undefined,
    };
    useExpected(files, options.expected);
    return files;
  } catch (err) {
    throw asUsage(err);
  }
}

export async function readState(
  client: Queryable,
  files: VerifyFiles,
  options: Pick<VerifyOptions, 'ledger' | 'profile'>,
  unread?: Unread,
): Promise<DatabaseState> {
  const ledger = ledgerOf(options);
  const relations = [
    `${ledger.schema}.${ledger.table}`,
    LEGACY_LEDGER,
    ...(options.profile?.seed ? Object.keys(SEED_COLUMNS).map((t) => `public.${t}`) : []),
  ];
  const { server, relations: found } = await readServerInfo(client, relations);
  const read = await readCatalog(client, server, () => expectedSchema(files), unread?.oids);
  if (!unread?.names.size) return { server, relations: found, catalog: read };
  return {
    server,
    relations: found,
    catalog: { ...read, tables: withoutUnread(read.tables, unread.names) },
    unread: unread.names,
  };
}

/** The expected schema without the tables that were not read: nothing is said about them, never "missing". */
function expectedRead(files: VerifyFiles, state: DatabaseState): SchemaSpec {
  const e = expectedSchema(files);
  const unread = state.unread;
  return unread?.size ? { ...e, tables: withoutUnread(e.tables, unread) } : e;
}

/** Tables without the unread ones, and without the foreign keys that reference those (their columns were not read). */
function withoutUnread<
  T extends { schema: string; name: string; foreignKeys: Array<{ refSchema: string; refTable: string }> },
>(tables: T[], unread: ReadonlySet<string>): T[] {
  return tables
    .filter((t) => !unread.has(`${t.schema}.${t.name}`))
    .map((t) => ({ ...t, foreignKeys: t.foreignKeys.filter((f) => !unread.has(`${f.refSchema}.${f.refTable}`)) }));
}

/** Tables in the schemas the snapshot covers (the catalog read holds every user schema). */
export function comparedTables(files: VerifyFiles, state: DatabaseState): number {
  const schemas = expectedSchema(files).schemas;
  return state.catalog.tables.filter((t) => schemas.includes(t.schema)).length;
}

export async function checkSchemaArea(files: VerifyFiles, state: DatabaseState): Promise<SchemaFinding[]> {
  await expressionParserReady();
  return [...compareSchema(expectedRead(files, state), state.catalog), ...files.expectedFindings];
}

function unreadable(rel: Relation, user: string): VerifyFinding {
  const [schema] = rel.name.split('.');
  return finding(
    'ledgers',
    'error',
    'verify.privilege',
    `role ${user} cannot read ${rel.name}, so it was not checked`,
    `run as an administrator: GRANT USAGE ON SCHEMA ${sqlIdent(schema!)}` +
      ` TO ${sqlIdent(user)}; GRANT SELECT ON ${rel.name} TO ${sqlIdent(user)};`,
  );
}

/** One finding for every table whose rows row level security hides from the role: not checked, never "missing". */
function rowsHidden(area: VerifyFinding['area'], rels: readonly Relation[], user: string, what: string): VerifyFinding {
  const names = rels.map((r) => r.name).join(', ');
  return finding(
    area,
    'error',
    'verify.row_security',
    `row level security hides rows of ${names} from role ${user} (no BYPASSRLS, ` +
      `no policy that lets it read every row), so ${what} not checked`,
    `run as a superuser: ALTER ROLE ${sqlIdent(user)} BYPASSRLS; then run: npx zx verify/index.ts`,
  );
}

export interface LedgerResult {
  findings: VerifyFinding[];
  applied: string[];
  pending: string[];
  release: ReleaseResult;
}

export async function checkLedgerArea(
  client: Queryable,
  files: VerifyFiles,
  state: DatabaseState,
  options: Pick<VerifyOptions, 'ledger' | 'profile' | 'now'>,
): Promise<LedgerResult> {
  const findings: VerifyFinding[] = [];
  const ledger = ledgerOf(options);
  const ledgerName = `${ledger.schema}.${ledger.table}`;
  findings.push(
    ...checkJournalOrder(files.entries, `${files.drizzleDir}/meta/_journal.json`, options.now ?? Date.now()),
  );

  let rows: DrizzleLedgerRow[] | null = null;
  const rel = state.relations.get(ledgerName)!;
  let readable = true;
  if (rel.exists && !rel.readable) {
    findings.push({ ...unreadable(rel, state.server.user) });
    readable = false;
  } else if (rel.exists && rel.rowsHidden) {
    findings.push(rowsHidden('ledgers', [rel], state.server.user, `${ledgerName} was`));
    readable = false;
  } else if (rel.exists) {
    const r = await client.query<{ id: number; hash: string; created_at: string | null }>(
      `select id, hash, created_at from ${tableRef(ledger.schema, ledger.table)} order by id`,
    );
    rows = r.rows.map((x) => ({
      id: Number(x.id),
      hash: x.hash,
      createdAt: x.created_at === null ? null : Number(x.created_at),
    }));
  }
  const drizzle = readable
    ? compareDrizzleLedger(files.migrations, files.entry.idx, rows, ledgerName)
    : { applied: [], pending: [], findings: [] };
  findings.push(...drizzle.findings);

  if (files.legacy) {
    const legacyRel = state.relations.get(LEGACY_LEDGER)!;
    if (legacyRel.exists && !legacyRel.readable) findings.push(unreadable(legacyRel, state.server.user));
    else if (legacyRel.exists && legacyRel.rowsHidden)
      findings.push(rowsHidden('ledgers', [legacyRel], state.server.user, `${LEGACY_LEDGER} was`));
    else {
      let legacyRows: LegacyLedgerRow[] | null = null;
      if (legacyRel.exists) {
        const r = await client.query<{ file: string; checksum: string; applied_at: Date | null; method: string }>(
          'select file, checksum, applied_at, method from upkit.legacy_migrations order by applied_at, file',
        );
        legacyRows = r.rows.map((x) => ({
          file: x.file,
          checksum: x.checksum,
          appliedAt: x.applied_at,
          method: x.method,
        }));
      }
      findings.push(...compareLegacyLedger(files.legacy, legacyRows));
    }
  }
  if (options.profile?.repeatableDir) findings.push(...(await checkRepeatable(client, options.profile)));
  const release = releaseFindings(state.catalog, rows, files, drizzle, options.profile);
  findings.push(...release.findings);
  return { findings, applied: drizzle.applied, pending: drizzle.pending, release: release.result };
}

export async function checkSeedArea(
  client: Queryable,
  state: DatabaseState,
  seed: SeedExpectations,
): Promise<{ findings: VerifyFinding[]; seed: SeedState | null }> {
  const blocked = [...state.relations.values()].filter((r) => r.name.startsWith('public.') && r.exists && !r.readable);
  if (blocked.length)
    return {
      findings: blocked.map((r) => ({ ...unreadable(r, state.server.user), area: 'seed data' as const })),
      seed: null,
    };
  const hidden = [...state.relations.values()].filter((r) => r.name.startsWith('public.') && r.exists && r.rowsHidden);
  if (hidden.length)
    return { findings: [rowsHidden('seed data', hidden, state.server.user, 'seed data was')], seed: null };
  const blockers = seedBlockers(state.catalog);
  if (blockers.length) {
    return {
      findings: [
        finding(
          'seed data',
          'warning',
          'seed.not_checked',
          `seed data not checked: ${blockers.join(', ')} (see schema)`,
          UPGRADE_HINT,
        ),
      ],
      seed: null,
    };
  }
  const found = await readSeedState(client, seed);
  return { findings: seedFindings(found, seed), seed: found };
}

/**
 * Schema errors get a hint once the ledgers are known. A difference that pending migrations
 * account for is fixed by the upgrade; one that is there even against the snapshot of the
 * last applied entry (`drift`, by code and message) was made by hand, and the hint is the
 * SQL that repairs it. Without ledger information, the SQL where there is one.
 */
export function assignSchemaHints(
  findings: readonly SchemaFinding[],
  pending: number | undefined,
  drift?: ReadonlySet<string>,
): VerifyFinding[] {
  return findings.map(({ fix, ...f }) => {
    if (f.hint !== null || f.severity !== 'error') return f;
    const isDrift = pending === 0 || (pending !== undefined && drift?.has(driftKey(f)) === true);
    if (pending === undefined) return { ...f, hint: fix ? `run in psql: ${fix}` : UPGRADE_HINT };
    if (!isDrift)
      return {
        ...f,
        hint:
          `run: npx zx upgrade.ts --dry-run (${pending} pending migration` +
          `${pending === 1 ? ' changes' : 's change'} the schema)`,
      };
    if (fix)
      return {
        ...f,
        hint: `the migrations that made it are recorded, so it was changed by hand; repair it in psql: ${fix}`,
      };
    return {
      ...f,
      hint:
        'the migrations that made it are recorded, so it was changed by hand: ' +
        'restore it from a backup (npx zx scripts/restore.ts FILE --into NAME to look first)',
    };
  });
}

export const driftKey = (f: Pick<VerifyFinding, 'code' | 'message'>) => `${f.code} ${f.message}`;

/** The schema findings that remain against the snapshot of the last applied entry: hand-made, not pending. */
export function driftAgainstApplied(files: VerifyFiles, state: DatabaseState, applied: readonly string[]): Set<string> {
  const last = files.entries.filter((e) => applied.includes(e.tag)).at(-1);
  if (!last) return new Set();
  try {
    return new Set(compareSchema(readSnapshot(files.drizzleDir, last), state.catalog).map(driftKey));
  } catch {
    // No snapshot for that entry: every difference is put down to the pending migrations.
    return new Set();
  }
}

/** assignSchemaHints with the drift set worked out from the ledger result. */
export function schemaHints(
  files: VerifyFiles,
  state: DatabaseState,
  schema: readonly SchemaFinding[],
  ledger: Pick<LedgerResult, 'pending' | 'applied'> | undefined,
): VerifyFinding[] {
  const errors = schema.some((f) => f.hint === null);
  const drift = errors && ledger?.pending.length ? driftAgainstApplied(files, state, ledger.applied) : undefined;
  return assignSchemaHints(schema, ledger?.pending.length, drift);
}

async function timed<T>(timings: VerifyResult['timings'], area: Area, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings[area] = (timings[area] ?? 0) + (performance.now() - started);
  }
}

/** Verifies an open client's database against the files; read-only, a fixed number of queries. */
export async function verifyDatabase(client: Queryable, options: VerifyOptions): Promise<VerifyResult> {
  const checks = new Set(options.checks ?? ['schema', 'ledgers', 'seed data']);
  const timings: VerifyResult['timings'] = {};
  const files = loadVerifyFiles(options);
  const state = await timed(timings, 'schema', () => readState(client, files, options));
  const schema = checks.has('schema') ? await timed(timings, 'schema', () => checkSchemaArea(files, state)) : [];
  const ledger = checks.has('ledgers')
    ? await timed(timings, 'ledgers', () => checkLedgerArea(client, files, state, options))
    : undefined;
  const expected = options.profile?.seed;
  const seed =
    checks.has('seed data') && expected
      ? await timed(timings, 'seed data', () => checkSeedArea(client, state, expected))
      : undefined;
  return {
    findings: [...schemaHints(files, state, schema, ledger), ...(ledger?.findings ?? []), ...(seed?.findings ?? [])],
    timings,
    server: state.server,
    snapshot: { entry: files.entry.tag, file: files.snapshotFile },
    expectedFrom: files.expectedFrom,
    release: ledger?.release ?? { detected: null, expected: null, evidence: [] },
    ledger: ledger ? { applied: ledger.applied, pending: ledger.pending } : null,
    seed: seed?.seed ?? null,
    tables: comparedTables(files, state),
  };
}
