// What the pending statements will do to objects that exist before the run, read from their
// parse trees (lib/sql/statements.ts), in the order they run: pure, no database. The checks
// of lib/checks/index.ts hold these against the live catalog before anything is written.
import type { AstNode, ParsedStatement } from '../sql/statements.ts';
import { sqlIdent } from '../quote.ts';
import { qualifiedNames, stringsOf } from '../sql/statements.ts';

/** A relation as the SQL names it: schema only when qualified. */
export interface Rel {
  schema: string | null;
  name: string;
}

/** Where a statement is: `0003_integration_status_enum.sql:23`. */
export interface At {
  file: string;
  line: number;
}

export interface ColumnShape {
  name: string;
  /** Type name as written, last part (`varchar`, `int4`, `integration_status`). */
  type: string;
  typeSchema: string | null;
  /** An array of that type (its type is then not compared). */
  array: boolean;
  notNull: boolean;
}

export type Intent =
  | { kind: 'extension'; name: string; at: At }
  /** The statement needs to own the relation (ALTER, DROP, CREATE INDEX ON, triggers, policies). */
  | { kind: 'owns'; rel: Rel; at: At; does: string }
  /** The statement writes rows: INSERT, UPDATE or DELETE privilege. */
  | { kind: 'writes'; rel: Rel; privilege: 'INSERT' | 'UPDATE' | 'DELETE'; at: At }
  | { kind: 'retype'; rel: Rel; column: string; at: At }
  | { kind: 'drop_column'; rel: Rel; column: string; at: At }
  | { kind: 'drop_table'; rel: Rel; at: At }
  /** A DO block or function body: opaque to the parser, only its text is known. */
  | { kind: 'opaque'; sql: string; at: At }
  /** DROP VIEW / MATERIALIZED VIEW: what depended on a column through it no longer does. */
  | { kind: 'drop_view'; rel: Rel; at: At }
  /**
   * A constraint, trigger or policy on `rel` that a statement drops (it then no longer stands in a later statement's
   * way).
   */
  | { kind: 'drop_object'; rel: Rel; name: string; at: At }
  /**
   * SET NOT NULL on a column; `filled`: an earlier pending UPDATE of the table sets that column (or a DO block names
   * the table).
   */
  | { kind: 'set_not_null'; rel: Rel; column: string; at: At; filled: boolean }
  /** ADD COLUMN … NOT NULL with no default of any kind. */
  | { kind: 'add_not_null'; rel: Rel; column: string; ifNotExists: boolean; at: At }
  /**
   * CREATE TABLE, with the columns it declares; later pending ADD COLUMN / SET NOT NULL / TYPE of that table are in
   * `later`.
   */
  /**
   * A unique index or constraint (or primary key) on a table: `columns` are the indexed
   * expressions as SQL (a column, or a function of one); `touched`: an earlier pending
   * statement writes the table, or names it in a DO block, so its rows may differ by then;
   * `reads`: the table's columns those expressions read, as named.
   */
  | {
      kind: 'unique';
      rel: Rel;
      name: string | null;
      what: string;
      columns: string[];
      reads: string[];
      at: At;
      touched: boolean;
    }
  /** A validated foreign key added to a table; `touched` as above, for either table. */
  | {
      kind: 'foreign_key';
      rel: Rel;
      name: string | null;
      columns: string[];
      ref: Rel;
      refColumns: string[];
      at: At;
      touched: boolean;
    }
  | {
      kind: 'create_table';
      rel: Rel;
      ifNotExists: boolean;
      columns: ColumnShape[];
      later: { added: string[]; notNull: string[]; retyped: string[] };
      at: At;
    };

const SELF_FILLING = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

export function relOf(node: unknown): Rel {
  const r = (node ?? {}) as { relname?: string; schemaname?: string };
  return { schema: r.schemaname ?? null, name: r.relname ?? '?' };
}

export function relKey(r: Rel): string {
  return r.schema ? `${r.schema}.${r.name}` : r.name;
}

function constraintTypes(def: AstNode): string[] {
  return ((def.constraints as AstNode[] | undefined) ?? []).map((c) =>
    String((c.Constraint as AstNode | undefined)?.contype),
  );
}

function columnShape(def: AstNode): ColumnShape {
  const typeName = (def.typeName ?? {}) as AstNode;
  const names = stringsOf(typeName.names);
  const types = constraintTypes(def);
  return {
    name: String(def.colname),
    type: names.at(-1) ?? '',
    typeSchema: names.length > 1 ? names.at(-2)! : null,
    array: Array.isArray(typeName.arrayBounds),
    notNull: types.includes('CONSTR_NOTNULL') || types.includes('CONSTR_PRIMARY'),
  };
}

/**
 * A new column existing rows cannot fill: NOT NULL (or primary key) with no default, identity, generation or serial
 * type.
 */
function requiresValue(def: AstNode): boolean {
  const types = constraintTypes(def);
  const notNull = types.includes('CONSTR_NOTNULL') || types.includes('CONSTR_PRIMARY');
  const fills = types.some((t) => t === 'CONSTR_DEFAULT' || t === 'CONSTR_IDENTITY' || t === 'CONSTR_GENERATED');
  return notNull && !fills && !SELF_FILLING.has(columnShape(def).type);
}

/** An identifier as SQL, quoted only when it must be (so that messages stay readable). */
export function ident(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : sqlIdent(name);
}

/** An index element as SQL: a column, or a function of one column (`lower(email)`); null for anything else. */
function indexExpression(elem: AstNode): string | null {
  if (typeof elem.name === 'string') return ident(elem.name);
  const call = (elem.expr as AstNode | undefined)?.FuncCall as AstNode | undefined;
  const args = (call?.args as AstNode[] | undefined) ?? [];
  const column = stringsOf((args[0]?.ColumnRef as AstNode | undefined)?.fields);
  if (!call || args.length !== 1 || column.length !== 1) return null;
  return `${stringsOf(call.funcname).map(ident).join('.')}(${ident(column[0]!)})`;
}

/** The column an index element reads (for the elements indexExpression takes), as named. */
function indexColumn(elem: AstNode): string {
  if (typeof elem.name === 'string') return elem.name;
  const call = (elem.expr as AstNode | undefined)?.FuncCall as AstNode | undefined;
  return (
    stringsOf((((call?.args as AstNode[] | undefined) ?? [])[0]?.ColumnRef as AstNode | undefined)?.fields)[0] ?? ''
  );
}

/** Whether a DO block or function body names the table (as an identifier, quoted or not). */
export function mentions(sql: string, table: string): boolean {
  const name = table.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w$])("${name}"|${name})($|[^\\w$])`, 'i').test(sql);
}

const ALTER_DOES: Record<string, string> = {
  AT_AddColumn: 'adds a column to',
  AT_DropColumn: 'drops a column of',
  AT_AlterColumnType: 'changes a column type of',
  AT_SetNotNull: 'sets NOT NULL on',
  AT_AddConstraint: 'adds a constraint to',
};

/** The intents of statements in run order, `file` naming each statement's file. */
export function intentsOf(files: ReadonlyArray<{ file: string; statements: readonly ParsedStatement[] }>): Intent[] {
  const out: Intent[] = [];
  // Columns each table's pending UPDATEs set so far: a later SET NOT NULL relies on them.
  const updated = new Map<string, Set<string>>();
  const creates: Array<Extract<Intent, { kind: 'create_table' }>> = [];
  const createdFor = (rel: Rel) => creates.find((c) => relKey(c.rel) === relKey(rel));
  // Tables earlier pending statements write, and the bodies of earlier DO blocks and functions.
  const written = new Set<string>();
  const opaque: string[] = [];
  const touched = (...rels: Rel[]) =>
    rels.some((r) => written.has(relKey(r)) || opaque.some((body) => mentions(body, r.name)));
  for (const { file, statements } of files) {
    for (const s of statements) {
      const at = { file, line: s.line };
      const n = s.node;
      switch (s.kind) {
        case 'CreateExtensionStmt':
          out.push({ kind: 'extension', name: String(n.extname), at });
          break;
        case 'CreateStmt': {
          const columns = ((n.tableElts as AstNode[] | undefined) ?? [])
            .map((e) => e.ColumnDef as AstNode | undefined)
            .filter((d): d is AstNode => d !== undefined)
            .map(columnShape);
          const intent = {
            kind: 'create_table' as const,
            rel: relOf(n.relation),
            ifNotExists: n.if_not_exists === true,
            columns,
            later: { added: [], notNull: [], retyped: [] },
            at,
          };
          creates.push(intent);
          out.push(intent);
          break;
        }
        case 'AlterTableStmt': {
          if (n.objtype !== undefined && n.objtype !== 'OBJECT_TABLE') {
            out.push({ kind: 'owns', rel: relOf(n.relation), at, does: 'alters' });
            break;
          }
          const rel = relOf(n.relation);
          const later = createdFor(rel)?.later;
          const subtypes: string[] = [];
          for (const wrapped of (n.cmds as AstNode[] | undefined) ?? []) {
            const cmd = (wrapped.AlterTableCmd ?? {}) as AstNode;
            const subtype = String(cmd.subtype);
            subtypes.push(subtype);
            const column = String(cmd.name);
            if (subtype === 'AT_AlterColumnType') {
              out.push({ kind: 'retype', rel, column, at });
              later?.retyped.push(column);
            } else if (subtype === 'AT_DropColumn' && cmd.behavior !== 'DROP_CASCADE') {
              out.push({ kind: 'drop_column', rel, column, at });
            } else if (subtype === 'AT_DropConstraint') {
              out.push({ kind: 'drop_object', rel, name: column, at });
            } else if (subtype === 'AT_SetNotNull') {
              out.push({
                kind: 'set_not_null',
                rel,
                column,
                at,
                filled:
                  updated.get(relKey(rel))?.has(column) === true || opaque.some((body) => mentions(body, rel.name)),
              });
              later?.notNull.push(column);
            } else if (subtype === 'AT_AddConstraint') {
              const con = ((cmd.def as AstNode | undefined)?.Constraint ?? {}) as AstNode;
              const name = (con.conname as string | undefined) ?? null;
              if (
                (con.contype === 'CONSTR_UNIQUE' || con.contype === 'CONSTR_PRIMARY') &&
                !con.indexname &&
                Array.isArray(con.keys)
              ) {
                out.push({
                  kind: 'unique',
                  rel,
                  name,
                  what: con.contype === 'CONSTR_PRIMARY' ? 'adds primary key' : 'adds unique constraint',
                  columns: stringsOf(con.keys).map(ident),
                  reads: stringsOf(con.keys),
                  at,
                  touched: touched(rel),
                });
              }
              if (con.contype === 'CONSTR_FOREIGN' && con.skip_validation !== true && Array.isArray(con.pk_attrs)) {
                const ref = relOf(con.pktable);
                out.push({
                  kind: 'foreign_key',
                  rel,
                  name,
                  columns: stringsOf(con.fk_attrs),
                  ref,
                  refColumns: stringsOf(con.pk_attrs),
                  at,
                  touched: touched(rel, ref),
                });
              }
            } else if (subtype === 'AT_AddColumn') {
              const def = ((cmd.def as AstNode | undefined)?.ColumnDef ?? {}) as AstNode;
              later?.added.push(String(def.colname));
              if (requiresValue(def))
                out.push({
                  kind: 'add_not_null',
                  rel,
                  column: String(def.colname),
                  ifNotExists: cmd.missing_ok === true,
                  at,
                });
            }
          }
          const does = subtypes.map((t) => ALTER_DOES[t]).find(Boolean) ?? 'alters';
          out.push({ kind: 'owns', rel, at, does });
          break;
        }
        case 'IndexStmt': {
          const rel = relOf(n.relation);
          const elems = ((n.indexParams as AstNode[] | undefined) ?? []).map((e) => (e.IndexElem ?? {}) as AstNode);
          const columns = elems.map(indexExpression);
          if (n.unique === true && !n.whereClause && columns.length && columns.every((c) => c !== null)) {
            out.push({
              kind: 'unique',
              rel,
              name: (n.idxname as string | undefined) ?? null,
              what: 'creates unique index',
              columns: columns as string[],
              reads: elems.map(indexColumn),
              at,
              touched: touched(rel),
            });
          }
          out.push({ kind: 'owns', rel, at, does: 'creates an index on' });
          break;
        }
        case 'DoStmt':
        case 'CreateFunctionStmt':
          opaque.push(s.sql);
          out.push({ kind: 'opaque', sql: s.sql, at });
          break;
        case 'CreateTrigStmt':
          out.push({ kind: 'owns', rel: relOf(n.relation), at, does: 'creates a trigger on' });
          break;
        case 'CreatePolicyStmt':
        case 'AlterPolicyStmt':
          out.push({ kind: 'owns', rel: relOf(n.table), at, does: 'creates a policy on' });
          break;
        case 'RenameStmt':
          if (n.relation) out.push({ kind: 'owns', rel: relOf(n.relation), at, does: 'renames' });
          break;
        case 'DropStmt':
          if (n.removeType === 'OBJECT_VIEW' || n.removeType === 'OBJECT_MATVIEW') {
            for (const parts of qualifiedNames(n.objects))
              out.push({
                kind: 'drop_view',
                rel: { schema: parts.length > 1 ? parts.at(-2)! : null, name: parts.at(-1)! },
                at,
              });
          }
          if (n.removeType === 'OBJECT_TRIGGER' || n.removeType === 'OBJECT_POLICY') {
            for (const parts of qualifiedNames(n.objects)) {
              if (parts.length >= 2)
                out.push({
                  kind: 'drop_object',
                  rel: { schema: parts.length > 2 ? parts.at(-3)! : null, name: parts.at(-2)! },
                  name: parts.at(-1)!,
                  at,
                });
            }
          }
          if (n.removeType === 'OBJECT_TABLE') {
            for (const parts of qualifiedNames(n.objects)) {
              const rel = { schema: parts.length > 1 ? parts.at(-2)! : null, name: parts.at(-1)! };
              if (n.behavior !== 'DROP_CASCADE') out.push({ kind: 'drop_table', rel, at });
              out.push({ kind: 'owns', rel, at, does: 'drops' });
            }
          }
          break;
        case 'InsertStmt':
          written.add(relKey(relOf(n.relation)));
          out.push({ kind: 'writes', rel: relOf(n.relation), privilege: 'INSERT', at });
          break;
        case 'UpdateStmt': {
          const rel = relOf(n.relation);
          const set = updated.get(relKey(rel)) ?? new Set<string>();
          for (const t of (n.targetList as AstNode[] | undefined) ?? [])
            set.add(String((t.ResTarget as AstNode | undefined)?.name));
          updated.set(relKey(rel), set);
          written.add(relKey(rel));
          out.push({ kind: 'writes', rel, privilege: 'UPDATE', at });
          break;
        }
        case 'DeleteStmt':
          written.add(relKey(relOf(n.relation)));
          out.push({ kind: 'writes', rel: relOf(n.relation), privilege: 'DELETE', at });
          break;
      }
    }
  }
  return out;
}
