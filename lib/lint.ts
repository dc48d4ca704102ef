// Destructive statements in pending SQL (DESIGN.md "lint"): pure, from the parse trees of
// lib/sql/statements.ts, no database. A finding without a `-- upkit:safe <why>` reason
// blocks the run unless the operator passes --allow-destructive.
import { qualifiedNames, statementText, stringsOf, walk } from './sql/statements.ts';
import type { AstNode, ParsedStatement } from './sql/statements.ts';

export type LintRule =
  | 'drop_table'
  | 'drop_column'
  | 'truncate'
  | 'alter_column_type'
  | 'set_not_null'
  | 'rename'
  | 'delete_without_where'
  | 'update_without_where'
  | 'drop_schema'
  | 'drop_type';

export interface LintFinding {
  file: string;
  line: number;
  rule: LintRule;
  object: string;
  message: string;
  /** First line of the statement, trimmed, at most 120 characters. */
  statement: string;
  /** The reason from `-- upkit:safe`, null when nobody reviewed the statement. */
  safe: string | null;
}

export interface LintContext {
  /** undefined = unknown, treated as filled. */
  tableHasRows(table: string): boolean | undefined;
}

type Found = Pick<LintFinding, 'rule' | 'object' | 'message'>;

interface RangeVarNode {
  relname?: string;
  schemaname?: string;
}

function tableName(rel: unknown): string {
  const r = (rel ?? {}) as RangeVarNode;
  return r.schemaname ? `${r.schemaname}.${r.relname}` : r.relname ?? '?';
}

// Serial types carry their own default (a sequence), so a NOT NULL serial column fills itself.
const SELF_FILLING = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

export function lintStatements(statements: readonly ParsedStatement[], file: string, context: LintContext): LintFinding[] {
  const findings: LintFinding[] = [];
  // A table created earlier in the same file is empty whatever the database says about a
  // namesake (or its absence): NOT NULL on it cannot fail.
  const createdHere = new Set<string>();
  for (const s of statements) {
    const filled = (table: string) => !createdHere.has(table) && context.tableHasRows(table) !== false;
    const first = statementText(s).split('\n')[0]!.trim().slice(0, 120);
    for (const f of inspect(s.kind, s.node, filled)) findings.push({ file, line: s.line, ...f, statement: first, safe: s.safe ?? null });
    if (s.kind === 'CreateStmt' || s.kind === 'CreateTableAsStmt') {
      const rel = s.kind === 'CreateStmt' ? s.node.relation : (s.node.into as AstNode | undefined)?.rel;
      createdHere.add(tableName(rel));
    }
  }
  return findings;
}

export function blocking(findings: readonly LintFinding[]): LintFinding[] {
  return findings.filter((f) => f.safe === null);
}

function inspect(kind: string, node: AstNode, filled: (table: string) => boolean): Found[] {
  switch (kind) {
    case 'DropStmt':
      return inspectDrop(node);
    case 'AlterTableStmt':
      return inspectAlterTable(node, filled);
    case 'TruncateStmt':
      return walkRangeVars(node.relations).map((t) => ({ rule: 'truncate', object: t, message: `empties table ${t} (every row is deleted)` }));
    case 'RenameStmt':
      return [inspectRename(node)];
    default:
      // DELETE and UPDATE are looked for anywhere in the tree: a data-modifying WITH hides
      // them inside an INSERT or a SELECT. DO blocks are opaque strings: nothing to find.
      return kind === 'DoStmt' ? [] : inspectDml(kind, node);
  }
}

function inspectDrop(node: AstNode): Found[] {
  const cascade = node.behavior === 'DROP_CASCADE';
  const names = qualifiedNames(node.objects).map((n) => n.join('.'));
  const through = cascade ? ', and through CASCADE everything that depends on it' : '';
  switch (node.removeType) {
    case 'OBJECT_TABLE':
      return names.map((t) => ({ rule: 'drop_table', object: t, message: `drops table ${t} and its data${through}` }));
    case 'OBJECT_SCHEMA':
      return names.map((n) => ({ rule: 'drop_schema', object: n, message: cascade ? `drops schema ${n} and every table and object in it` : `drops schema ${n} (fails unless it is empty)` }));
    case 'OBJECT_TYPE':
    case 'OBJECT_DOMAIN':
      return names.map((n) => ({ rule: 'drop_type', object: n, message: cascade ? `drops type ${n} and, through CASCADE, every column of that type with its data` : `drops type ${n} (fails while a column uses it)` }));
    case 'OBJECT_INDEX':
      // An index holds no data and is rebuilt from the table: never destructive.
      return [];
    default: {
      if (!cascade) return [];
      const what = String(node.removeType).replace('OBJECT_', '').toLowerCase().replace(/_/g, ' ');
      return names.map((n) => ({ rule: 'drop_table', object: n, message: `drops ${what} ${n} and, through CASCADE, everything that depends on it (columns, views, constraints)` }));
    }
  }
}

function inspectAlterTable(node: AstNode, filled: (table: string) => boolean): Found[] {
  const table = tableName(node.relation);
  const found: Found[] = [];
  for (const wrapped of (node.cmds as AstNode[] | undefined) ?? []) {
    const cmd = (wrapped.AlterTableCmd ?? {}) as AstNode;
    const column = `${table}.${String(cmd.name)}`;
    switch (cmd.subtype) {
      case 'AT_DropColumn':
        found.push({ rule: 'drop_column', object: column, message: `drops column ${column} and its data` });
        break;
      case 'AT_AlterColumnType':
        found.push({ rule: 'alter_column_type', object: column, message: `changes the type of ${column} (rewrites the table; values that do not convert fail or change)` });
        break;
      case 'AT_SetNotNull':
        if (filled(table)) found.push({ rule: 'set_not_null', object: column, message: `makes ${column} NOT NULL (fails if a row holds NULL; ${table} has rows or may have)` });
        break;
      case 'AT_AddColumn': {
        const def = ((cmd.def as AstNode | undefined)?.ColumnDef ?? {}) as AstNode;
        if (requiresValue(def) && filled(table)) {
          const added = `${table}.${String(def.colname)}`;
          found.push({ rule: 'set_not_null', object: added, message: `adds ${added} NOT NULL without a default (fails: the existing rows of ${table} would hold NULL)` });
        }
        break;
      }
    }
  }
  return found;
}

/** A new column that existing rows cannot fill: NOT NULL (or primary key) with no default of any kind. */
function requiresValue(def: AstNode): boolean {
  const types = ((def.constraints as AstNode[] | undefined) ?? []).map((c) => (c.Constraint as AstNode | undefined)?.contype);
  const notNull = types.includes('CONSTR_NOTNULL') || types.includes('CONSTR_PRIMARY');
  const fills = types.some((t) => t === 'CONSTR_DEFAULT' || t === 'CONSTR_IDENTITY' || t === 'CONSTR_GENERATED');
  const typeName = stringsOf((def.typeName as AstNode | undefined)?.names).at(-1) ?? '';
  return notNull && !fills && !SELF_FILLING.has(typeName);
}

function inspectRename(node: AstNode): Found {
  const type = String(node.renameType);
  const label = type === 'OBJECT_TABCONSTRAINT' ? 'constraint' : type.replace('OBJECT_', '').toLowerCase().replace(/_/g, ' ');
  let object: string;
  if (node.relation) object = node.subname ? `${tableName(node.relation)}.${String(node.subname)}` : tableName(node.relation);
  else object = qualifiedNames([node.object])[0]?.join('.') || String(node.subname ?? '?');
  return { rule: 'rename', object, message: `renames ${label} ${object} to ${String(node.newname)} (code that still uses the old name fails)` };
}

function inspectDml(kind: string, node: AstNode): Found[] {
  const found: Found[] = [];
  walk({ [kind]: node }, (x) => {
    const del = x.DeleteStmt as AstNode | undefined;
    if (del && !del.whereClause) {
      const t = tableName(del.relation);
      found.push({ rule: 'delete_without_where', object: t, message: `deletes every row of ${t}` });
    }
    const upd = x.UpdateStmt as AstNode | undefined;
    if (upd && !upd.whereClause) {
      const t = tableName(upd.relation);
      const columns = ((upd.targetList as AstNode[] | undefined) ?? []).map((r) => String((r.ResTarget as AstNode | undefined)?.name)).join(', ');
      found.push({ rule: 'update_without_where', object: t, message: `overwrites ${columns} in every row of ${t}` });
    }
  });
  return found;
}

function walkRangeVars(list: unknown): string[] {
  return ((list as AstNode[] | undefined) ?? []).map((r) => tableName(r.RangeVar));
}
