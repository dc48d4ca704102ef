// One migration file split into statements and classified by PostgreSQL's own parser
// (libpg-query), so that apply knows what must run outside a transaction and lint knows
// what each statement does, without guessing from the text.
import { parse } from 'libpg-query';
import { UpkitError } from '../errors.ts';
import { locate } from '../pgError.ts';

// drizzle-orm's separator, spelled here rather than imported so this module stays free of
// the drizzle folder's I/O (lib/drizzle/journal.ts uses the same string).
const BREAKPOINT = '--> statement-breakpoint';

export interface ParsedStatement {
  index: number;
  /** Exactly the text to send: leading whitespace and comments may stay, no trailing breakpoint. */
  sql: string;
  /** 1-based line in the file of the statement's first token (not its leading comment). */
  line: number;
  column: number;
  /** Character offset in the file where `sql` starts (for lib/pgError.ts file:line:col). */
  offset: number;
  /** libpg-query node type, e.g. 'AlterTableStmt', 'IndexStmt', 'DoStmt'. */
  kind: string;
  /**
   * false when PostgreSQL refuses it inside a transaction block, or when it must commit before later statements can use
   * its effect
   */
  transactional: boolean;
  /** For DROP INDEX CONCURRENTLY and REINDEX INDEX the table is not named by the SQL: `table` is ''. */
  concurrentIndex?: {
    name: string | null;
    table: string;
    schema: string | null;
    action: 'create' | 'drop' | 'reindex';
  };
  addsEnumValue?: { type: string; schema: string | null; value: string; ifNotExists: boolean };
  /** Tables the statement touches, `schema.table` when qualified else `table`, in order of appearance. */
  relations: string[];
  /** The reason of a `-- upkit:safe <why>` comment on the line right before the first token. */
  safe?: string;
  /** The parse tree, for lib/lint.ts; not part of what apply needs. */
  node: AstNode;
}

export type AstNode = Record<string, unknown>;

export interface ParseOptions {
  file: string;
  /** true for drizzle files: split on `--> statement-breakpoint` first, as drizzle-orm does. */
  breakpoints: boolean;
}

interface RawStmt {
  stmt: AstNode;
  stmt_location?: number;
  stmt_len?: number;
}

// A reason is required: a bare `-- upkit:safe` says nothing a reviewer can check.
const SAFE = /^--\s*upkit:safe\s+(\S.*)$/;

export async function parseSqlFile(text: string, options: ParseOptions): Promise<ParsedStatement[]> {
  const chunks = options.breakpoints ? text.split(BREAKPOINT) : [text];
  const out: ParsedStatement[] = [];
  let chunkStart = 0;
  for (const chunk of chunks) {
    const bytes = Buffer.from(chunk, 'utf8');
    for (const raw of await parseChunk(chunk, chunkStart, text, options.file)) {
      // libpg-query reports statement spans in UTF-8 bytes; the file is indexed in characters.
      const startByte = raw.stmt_location ?? 0;
      const endByte = raw.stmt_len ? startByte + raw.stmt_len : bytes.length;
      const start = bytes.subarray(0, startByte).toString('utf8').length;
      const sql = bytes.subarray(startByte, endByte).toString('utf8');
      const offset = chunkStart + start;
      const lead = leadingTrivia(sql);
      const first = locate(text, offset + lead.end);
      const kind = Object.keys(raw.stmt)[0] ?? 'Unknown';
      const node = (raw.stmt[kind] ?? {}) as AstNode;
      const safeComment = lead.lineComments.find(
        (c) => locate(text, offset + c.index).line === first.line - 1 && SAFE.test(c.text),
      );
      const statement: ParsedStatement = {
        index: out.length,
        sql,
        line: first.line,
        column: first.column,
        offset,
        kind,
        transactional: true,
        relations: relationsOf(kind, node),
        node,
      };
      if (safeComment) statement.safe = SAFE.exec(safeComment.text)![1]!.trim();
      classify(statement);
      out.push(statement);
    }
    chunkStart += chunk.length + BREAKPOINT.length;
  }
  markEnumValuesUsedLater(out);
  return out;
}

async function parseChunk(chunk: string, chunkStart: number, text: string, file: string): Promise<RawStmt[]> {
  // libpg-query refuses an empty or blank query outright, where a comment-only one is fine.
  if (chunk.trim() === '') return [];
  try {
    return ((await parse(chunk)) as { stmts?: RawStmt[] }).stmts ?? [];
  } catch (err) {
    // The cursor is 0-based and counted in code points of the chunk (PostgreSQL converts its
    // byte position for errors), unlike the byte offsets of statement spans; JavaScript
    // indexes UTF-16 units, so a character outside the BMP counts twice here.
    const cursor = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition ?? 0;
    const loc = locate(text, chunkStart + [...chunk].slice(0, Math.max(0, cursor)).join('').length);
    const gutter = `${loc.line} | `;
    throw new UpkitError({
      code: 'sql.syntax',
      exit: 'refused',
      message: `${file}:${loc.line}:${loc.column}: ${(err as Error).message}`,
      details: [
        `${gutter}${loc.lineText}`,
        `${' '.repeat(gutter.length)}${loc.lineText.slice(0, loc.column - 1).replace(/[^\t]/g, ' ')}^`,
      ],
      hint: `fix the SQL in ${file}; nothing was changed`,
      cause: err,
    });
  }
}

/** Where the first token starts, skipping whitespace and comments; the line comments met on the way. */
function leadingTrivia(sql: string): { end: number; lineComments: { index: number; text: string }[] } {
  const lineComments: { index: number; text: string }[] = [];
  let i = 0;
  while (i < sql.length) {
    if (/\s/.test(sql[i]!)) i++;
    else if (sql.startsWith('--', i)) {
      const nl = sql.indexOf('\n', i);
      const stop = nl === -1 ? sql.length : nl;
      lineComments.push({ index: i, text: sql.slice(i, stop).trim() });
      i = stop;
    } else if (sql.startsWith('/*', i)) {
      // PostgreSQL block comments nest.
      let depth = 0;
      do {
        if (sql.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (sql.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else i++;
      } while (depth > 0 && i < sql.length);
    } else break;
  }
  return { end: i, lineComments };
}

function classify(s: ParsedStatement): void {
  const n = s.node;
  const rel = n.relation as { relname?: string; schemaname?: string } | undefined;
  switch (s.kind) {
    case 'IndexStmt':
      if (n.concurrent) {
        s.transactional = false;
        s.concurrentIndex = {
          name: (n.idxname as string | undefined) ?? null,
          table: rel?.relname ?? '',
          schema: rel?.schemaname ?? null,
          action: 'create',
        };
      }
      return;
    case 'DropStmt':
      if (n.concurrent && n.removeType === 'OBJECT_INDEX') {
        const names = qualifiedNames(n.objects)[0] ?? [];
        s.transactional = false;
        s.concurrentIndex = {
          name: names.at(-1) ?? null,
          table: '',
          schema: names.length > 1 ? names.at(-2)! : null,
          action: 'drop',
        };
      }
      return;
    case 'ReindexStmt': {
      const concurrent = ((n.params as AstNode[] | undefined) ?? []).some(
        (p) => (p.DefElem as AstNode | undefined)?.defname === 'concurrently',
      );
      // REINDEX SCHEMA / SYSTEM / DATABASE refuse a transaction block even without CONCURRENTLY.
      if (concurrent || !rel) s.transactional = false;
      if (concurrent && rel) {
        const isIndex = n.kind === 'REINDEX_OBJECT_INDEX';
        s.concurrentIndex = {
          name: isIndex ? (rel.relname ?? null) : null,
          table: isIndex ? '' : (rel.relname ?? ''),
          schema: rel.schemaname ?? null,
          action: 'reindex',
        };
      }
      return;
    }
    case 'VacuumStmt':
      // ANALYZE parses as a VacuumStmt too, and it may run in a transaction.
      if (n.is_vacuumcmd) s.transactional = false;
      return;
    case 'CreatedbStmt':
    case 'DropdbStmt':
    case 'AlterSystemStmt':
    case 'CreateTableSpaceStmt':
    case 'DropTableSpaceStmt':
      s.transactional = false;
      return;
    case 'AlterEnumStmt':
      if (typeof n.newVal === 'string' && n.oldVal === undefined) {
        const names = stringsOf(n.typeName);
        s.addsEnumValue = {
          type: names.at(-1) ?? '',
          schema: names.length > 1 ? names.at(-2)! : null,
          value: n.newVal,
          ifNotExists: n.skipIfNewValExists === true,
        };
      }
      return;
  }
}

/**
 * The enum rule. PostgreSQL accepts ALTER TYPE … ADD VALUE in a transaction, but the new
 * value cannot be used until that transaction commits ("unsafe use of new value"), unless
 * the type itself was created in the same transaction. So the statement runs on its own,
 * committed before the rest, when a LATER statement of the file uses it (heuristic: quotes
 * the value as a string literal, or names the type) AND no EARLIER statement of the file
 * created the type. Otherwise it stays in the migration's transaction.
 */
function markEnumValuesUsedLater(statements: ParsedStatement[]): void {
  for (const s of statements) {
    const added = s.addsEnumValue;
    if (!added) continue;
    const sameType = (names: string[]) =>
      names.at(-1) === added.type && (names.length < 2 || added.schema === null || names.at(-2) === added.schema);
    const createdEarlier = statements
      .slice(0, s.index)
      .some((e) => e.kind === 'CreateEnumStmt' && sameType(stringsOf(e.node.typeName)));
    if (createdEarlier) continue;
    const literal = `'${added.value.replace(/'/g, "''")}'`;
    const usedLater = statements
      .slice(s.index + 1)
      .some((l) => statementText(l).includes(literal) || typeNamesIn(l.node).some(sameType));
    if (usedLater) s.transactional = false;
  }
}

/**
 * A migration's statements in the order upkit runs them: new enum values that later
 * statements use (each committed on its own), then one transaction, then what PostgreSQL
 * refuses in a transaction (concurrent index builds), each on its own.
 */
export function migrationParts(statements: readonly ParsedStatement[]): {
  before: ParsedStatement[];
  inside: ParsedStatement[];
  after: ParsedStatement[];
} {
  return {
    before: statements.filter((s) => !s.transactional && s.addsEnumValue),
    inside: statements.filter((s) => s.transactional),
    after: statements.filter((s) => !s.transactional && !s.addsEnumValue),
  };
}

/** One piece of a migration that ends and opens its own transactions, in file order. */
export type Segment =
  | { kind: 'transaction'; statements: ParsedStatement[] }
  | { kind: 'single'; statement: ParsedStatement };

/**
 * A migration that ends and opens transactions itself (`COMMIT;` … `BEGIN;`, as some apps'
 * migrations do so that a concurrent index build can run between them) runs in file order:
 * drizzle-orm's migrator opens one transaction around the file, so everything before the
 * file's first COMMIT, and between each BEGIN and the next COMMIT, is one transaction; a
 * statement between a COMMIT and the next BEGIN runs on its own. null: the file has no
 * transaction control (upkit's own order applies, `migrationParts`). drizzle's ledger row is
 * written after the last segment, in a transaction of its own.
 * A transaction control statement other than BEGIN/START TRANSACTION and COMMIT/END is
 * named in `unsupported`.
 */
export function migrationSegments(
  statements: readonly ParsedStatement[],
): { segments: Segment[]; unsupported: ParsedStatement | undefined } | null {
  if (!statements.some((s) => s.kind === 'TransactionStmt')) return null;
  const segments: Segment[] = [];
  let current: ParsedStatement[] | null = [];
  let unsupported: ParsedStatement | undefined;
  for (const s of statements) {
    if (s.kind === 'TransactionStmt') {
      const kind = String(s.node.kind);
      if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') {
        if (current === null) current = [];
      } else if (kind === 'TRANS_STMT_COMMIT') {
        if (current?.length) segments.push({ kind: 'transaction', statements: current });
        current = null;
      } else unsupported ??= s;
      continue;
    }
    if (current) current.push(s);
    else segments.push({ kind: 'single', statement: s });
  }
  if (current?.length) segments.push({ kind: 'transaction', statements: current });
  return { segments, unsupported };
}

/** The statement from its first token on, without its leading comments. */
export function statementText(s: Pick<ParsedStatement, 'sql'>): string {
  return s.sql.slice(leadingTrivia(s.sql).end);
}

export function stringsOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list
    .map((x) => ((x as AstNode).String as { sval?: string } | undefined)?.sval)
    .filter((x): x is string => typeof x === 'string');
}

/**
 * DropStmt objects: each a List of String (or a bare String for schemas, a TypeName for types, an ObjectWithArgs for
 * functions).
 */
export function qualifiedNames(objects: unknown): string[][] {
  if (!Array.isArray(objects)) return [];
  return objects.map((o) => {
    const node = o as AstNode;
    if (node.List) return stringsOf((node.List as AstNode).items);
    if (node.TypeName) return stringsOf((node.TypeName as AstNode).names);
    if (node.ObjectWithArgs) return stringsOf((node.ObjectWithArgs as AstNode).objname);
    return stringsOf([node]);
  });
}

/** Every node in the tree, depth first in key order, with the key it sits under. */
export function walk(node: unknown, visit: (value: AstNode, key: string) => void, key = ''): void {
  if (Array.isArray(node)) for (const x of node) walk(x, visit, key);
  else if (node && typeof node === 'object') {
    visit(node as AstNode, key);
    for (const [k, v] of Object.entries(node)) walk(v, visit, k);
  }
}

// RangeVar nodes appear wrapped ({ RangeVar: {...} }) in lists and bare under fields like
// `relation`; their shape (relname + relpersistence) identifies them either way.
function isRangeVar(x: AstNode): x is AstNode & { relname: string; schemaname?: string; location?: number } {
  return typeof x.relname === 'string' && 'relpersistence' in x;
}

function typeNamesIn(node: AstNode): string[][] {
  const found: string[][] = [];
  walk(node, (x) => {
    if (Array.isArray(x.names) && 'typemod' in x) found.push(stringsOf(x.names));
  });
  return found;
}

function relationsOf(kind: string, node: AstNode): string[] {
  const found: { name: string; at: number }[] = [];
  // DROP TABLE names its tables as plain name lists, not RangeVars; they matter for locks too.
  if (kind === 'DropStmt' && node.removeType === 'OBJECT_TABLE')
    for (const n of qualifiedNames(node.objects)) found.push({ name: n.join('.'), at: -1 });
  // A WITH query's name is read through a RangeVar too, but it is no table.
  const ctes = new Set<string>();
  walk(node, (x) => {
    if (typeof x.ctename === 'string') ctes.add(x.ctename);
  });
  walk(node, (x) => {
    if (isRangeVar(x) && !(x.schemaname === undefined && ctes.has(x.relname)))
      found.push({ name: x.schemaname ? `${x.schemaname}.${x.relname}` : x.relname, at: x.location ?? -1 });
  });
  const ordered = found.map((f, i) => ({ ...f, i })).sort((a, b) => a.at - b.at || a.i - b.i);
  return [...new Set(ordered.map((f) => f.name))];
}
