// The replay of a shadow database: the journal's migrations applied to a scratch database the
// way upkit applies them (lib/sql/statements.ts splits and classifies; migrationParts orders),
// never touching what the whole server shares, then its catalog read with verify's queries.
import type { Client } from 'pg';
import { withTransaction } from '../lib/db.ts';
import { displayPath } from '../lib/content.ts';
import { sqlIdent } from '../lib/quote.ts';
import { migrationParts, migrationSegments, parseSqlFile, type ParsedStatement } from '../lib/sql/statements.ts';
import { readCatalogRows, type CatalogRows } from './catalog.ts';
import type { VerifyFiles } from './engine.ts';

export type ParsedMigrations = Array<{ tag: string; file: string; statements: ParsedStatement[] }>;

/** The migrations of the journal up to the compared entry, parsed. */
export async function statementsOf(files: VerifyFiles): Promise<ParsedMigrations> {
  const out = [];
  for (const m of files.migrations.filter((x) => x.idx <= files.entry.idx)) {
    out.push({
      tag: m.tag,
      file: displayPath(m.path),
      statements: await parseSqlFile(m.text, { file: displayPath(m.path), breakpoints: m.breakpoints }),
    });
  }
  return out;
}

export function extensionsCreated(parsed: ReadonlyArray<{ statements: ParsedStatement[] }>): Set<string> {
  return new Set(
    parsed.flatMap((m) =>
      m.statements.filter((s) => s.kind === 'CreateExtensionStmt').map((s) => String(s.node.extname)),
    ),
  );
}

export class ReplayFailed extends Error {
  readonly sqlState: string | undefined;

  constructor(message: string, sqlState?: string) {
    super(message);
    this.sqlState = sqlState;
  }
}

export function replayHint(sqlState: string | undefined, roleHint: string): string {
  if (sqlState === '42501') return roleHint;
  if (sqlState === 'server-wide')
    return (
      'nothing to do on the server: upkit never replays such a ' +
      'statement beside the live database, so the snapshot serves'
    );
  // An extension whose files the server lacks (could not open extension control file).
  if (sqlState === '58P01' || sqlState === '0A000')
    return 'install the extension on the database server (its package), then run verify again';
  return "the app's migrations fail on an empty database: tell its developers; meanwhile the snapshot serves";
}

async function run(c: Pick<Client, 'query'>, m: { file: string }, s: ParsedStatement): Promise<void> {
  if (!(await replayable(c, m, s))) return;
  try {
    await c.query(s.sql);
  } catch (err) {
    const e = err as { message?: string; code?: string };
    throw new ReplayFailed(
      `${m.file}:${s.line}: ${e.message ?? String(err)}${e.code ? ` (SQLSTATE ${e.code})` : ''}`,
      e.code,
    );
  }
}

// Statements on what the whole server shares (roles, databases, tablespaces, settings,
// subscriptions): a scratch database on the same server must never replay them. They change
// nothing verify compares; the live database's own run already made them.
const SERVER_WIDE = new Set([
  'AlterRoleStmt',
  'AlterRoleSetStmt',
  'DropRoleStmt',
  'GrantRoleStmt',
  'CreatedbStmt',
  'DropdbStmt',
  'AlterDatabaseStmt',
  'AlterDatabaseSetStmt',
  'AlterDatabaseRefreshCollStmt',
  'AlterSystemStmt',
  'CreateTableSpaceStmt',
  'DropTableSpaceStmt',
  'AlterTableSpaceOptionsStmt',
  'ReassignOwnedStmt',
  'DropOwnedStmt',
  'CreateSubscriptionStmt',
  'AlterSubscriptionStmt',
  'DropSubscriptionStmt',
]);
const SERVER_WIDE_IN_DO = new RegExp(
  String.raw`\b(?:(?:drop|alter)\s+(?:role|user|group|database|tablespace|subscription)|alter\s+system|` +
    String.raw`reassign\s+owned|drop\s+owned|create\s+(?:database|tablespace|subscription))\b`,
  'i',
);
const CREATE_ROLE_IN_DO =
  /\bcreate\s+(?:role|user|group)\s+(?:if\s+not\s+exists\s+)?("(?:[^"]|"")+"|[A-Za-z_][\w$]*)/gi;

async function rolesMissing(c: Pick<Client, 'query'>, names: readonly string[]): Promise<string[]> {
  if (!names.length) return [];
  const { rows } = await c.query<{ name: string }>(
    'select n as name from unnest($1::text[]) n where not exists (select 1 from pg_roles r where r.rolname = n)',
    [names],
  );
  return rows.map((r) => r.name);
}

/**
 * Whether a statement runs in the scratch database: false for one on server-wide objects (skipped); throws for one that
 * cannot be replayed safely.
 */
const SHARED_OBJECTS = new Set([
  'OBJECT_DATABASE',
  'OBJECT_ROLE',
  'OBJECT_TABLESPACE',
  'OBJECT_SUBSCRIPTION',
  'OBJECT_PARAMETER_ACL',
]);

/** GRANT, COMMENT, SECURITY LABEL, OWNER TO or RENAME of a database, role, tablespace, subscription or parameter. */
function onSharedObject(s: ParsedStatement): boolean {
  const n = s.node;
  const type = n.objtype ?? n.objectType ?? n.renameType;
  return (
    ['GrantStmt', 'CommentStmt', 'SecLabelStmt', 'AlterOwnerStmt', 'RenameStmt'].includes(s.kind) &&
    typeof type === 'string' &&
    SHARED_OBJECTS.has(type)
  );
}

async function replayable(c: Pick<Client, 'query'>, m: { file: string }, s: ParsedStatement): Promise<boolean> {
  if (SERVER_WIDE.has(s.kind) || onSharedObject(s)) return false;
  const roleWhy = (names: string[]) =>
    `${m.file}:${s.line} creates role ${names.join(', ')}, which this server does not have: ` +
    `a scratch database cannot replay that without creating a role for the whole server`;
  if (s.kind === 'CreateRoleStmt') {
    const missing = await rolesMissing(c, [String(s.node.role)]);
    if (missing.length) throw new ReplayFailed(roleWhy(missing), 'server-wide');
    return false;
  }
  if (s.kind === 'DoStmt') {
    // The body's code, without its comments (which may well speak of roles).
    const code = s.sql.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
    if (SERVER_WIDE_IN_DO.test(code))
      throw new ReplayFailed(
        `${m.file}:${s.line}: a DO block that changes what the whole server shares (roles, ` +
          `databases, tablespaces, settings) is not replayed into a scratch database`,
        'server-wide',
      );
    const names = [...code.matchAll(CREATE_ROLE_IN_DO)].map((x) =>
      x[1]!.startsWith('"') ? x[1]!.slice(1, -1).replace(/""/g, '"') : x[1]!.toLowerCase(),
    );
    const missing = await rolesMissing(c, names);
    if (missing.length) throw new ReplayFailed(roleWhy(missing), 'server-wide');
  }
  return true;
}

/** Applies the parsed migrations to a database of their own, in upkit's order, and reads its catalog. */
export async function replay(
  c: Client,
  parsed: ParsedMigrations,
  preinstall: ReadonlyArray<{ name: string; schema: string }>,
  versionNum: number,
): Promise<CatalogRows> {
  await c.query(
    `select set_config('statement_timeout', '0', false), set_config('lock_timeout', ` +
      `'0', false), set_config('idle_in_transaction_session_timeout', '0', false)`,
  );
  for (const e of preinstall) {
    try {
      await c.query(`create extension if not exists ${sqlIdent(e.name)} schema ${sqlIdent(e.schema)}`);
    } catch (err) {
      throw new ReplayFailed(
        `extension ${e.name}, which the live database has and no ` +
          `migration creates, cannot be created: ${(err as Error).message}`,
        (err as { code?: string }).code,
      );
    }
  }
  for (const m of parsed) {
    // A migration that ends and opens its own transactions runs in file order, as upkit applies it.
    const own = migrationSegments(m.statements);
    if (own) {
      for (const seg of own.segments) {
        if (seg.kind === 'single') await run(c, m, seg.statement);
        else {
          await withTransaction(c, async () => {
            for (const s of seg.statements) await run(c, m, s);
          });
        }
      }
      continue;
    }
    const { before, inside, after } = migrationParts(m.statements);
    for (const s of before) await run(c, m, s);
    if (inside.length) {
      await withTransaction(c, async () => {
        for (const s of inside) await run(c, m, s);
      });
    }
    for (const s of after) await run(c, m, s);
  }
  return readCatalogRows(c, { versionNum });
}
