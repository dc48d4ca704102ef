// What the pending statements will do to objects that exist before the run, read from their
// parse trees (lib/sql/statements.ts), in the order they run: pure, no database. The checks
// of lib/checks/index.ts hold these against the live catalog before anything is written.
import type { AstNode, ParsedStatement } from '../sql/statements.ts';
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
  /** DROP VIEW / MATERIALIZED VIEW: what depended on a column through it no longer does. */
  | { kind: 'drop_view'; rel: Rel; at: At }
  /** SET NOT NULL on a column; `filled`: an earlier pending UPDATE of the table sets that column. */
  | { kind: 'set_not_null'; rel: Rel; column: string; at: At; filled: boolean }
  /** ADD COLUMN … NOT NULL with no default of any kind. */
  | { kind: 'add_not_null'; rel: Rel; column: string; ifNotExists: boolean; at: At }
  /** CREATE TABLE, with the columns it declares; later pending ADD COLUMN / SET NOT NULL / TYPE of that table are in `later`. */
  | { kind: 'create_table'; rel: Rel; ifNotExists: boolean; columns: ColumnShape[]; later: { added: string[]; notNull: string[]; retyped: string[] }; at: At };

const SELF_FILLING = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

export function relOf(node: unknown): Rel {
  const r = (node ?? {}) as { relname?: string; schemaname?: string };
  return { schema: r.schemaname ?? null, name: r.relname ?? '?' };
}

export function relKey(r: Rel): string {
  return r.schema ? `${r.schema}.${r.name}` : r.name;
}

function constraintTypes(def: AstNode): string[] {
  return ((def.constraints as AstNode[] | undefined) ?? []).map((c) => String((c.Constraint as AstNode | undefined)?.contype));
}

function columnShape(def: AstNode): ColumnShape {
  const typeName = (def.typeName ?? {}) as AstNode;
  const names = stringsOf(typeName.names);
  const types = constraintTypes(def);
  return { name: String(def.colname), type: names.at(-1) ?? '', typeSchema: names.length > 1 ? names.at(-2)! : null, array: Array.isArray(typeName.arrayBounds), notNull: types.includes('CONSTR_NOTNULL') || types.includes('CONSTR_PRIMARY') };
}

/** A new column existing rows cannot fill: NOT NULL (or primary key) with no default, identity, generation or serial type. */
function requiresValue(def: AstNode): boolean {
  const types = constraintTypes(def);
  const notNull = types.includes('CONSTR_NOTNULL') || types.includes('CONSTR_PRIMARY');
  const fills = types.some((t) => t === 'CONSTR_DEFAULT' || t === 'CONSTR_IDENTITY' || t === 'CONSTR_GENERATED');
  return notNull && !fills && !SELF_FILLING.has(columnShape(def).type);
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
  for (const { file, statements } of files) {
    for (const s of statements) {
      const at = { file, line: s.line };
      const n = s.node;
      switch (s.kind) {
        case 'CreateExtensionStmt':
          out.push({ kind: 'extension', name: String(n.extname), at });
          break;
        case 'CreateStmt': {
          const columns = ((n.tableElts as AstNode[] | undefined) ?? []).map((e) => e.ColumnDef as AstNode | undefined).filter((d): d is AstNode => d !== undefined).map(columnShape);
          const intent = { kind: 'create_table' as const, rel: relOf(n.relation), ifNotExists: n.if_not_exists === true, columns, later: { added: [], notNull: [], retyped: [] }, at };
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
            } else if (subtype === 'AT_SetNotNull') {
              out.push({ kind: 'set_not_null', rel, column, at, filled: updated.get(relKey(rel))?.has(column) === true });
              later?.notNull.push(column);
            } else if (subtype === 'AT_AddColumn') {
              const def = ((cmd.def as AstNode | undefined)?.ColumnDef ?? {}) as AstNode;
              later?.added.push(String(def.colname));
              if (requiresValue(def)) out.push({ kind: 'add_not_null', rel, column: String(def.colname), ifNotExists: cmd.missing_ok === true, at });
            }
          }
          const does = subtypes.map((t) => ALTER_DOES[t]).find(Boolean) ?? 'alters';
          out.push({ kind: 'owns', rel, at, does });
          break;
        }
        case 'IndexStmt':
          out.push({ kind: 'owns', rel: relOf(n.relation), at, does: 'creates an index on' });
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
            for (const parts of qualifiedNames(n.objects)) out.push({ kind: 'drop_view', rel: { schema: parts.length > 1 ? parts.at(-2)! : null, name: parts.at(-1)! }, at });
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
          out.push({ kind: 'writes', rel: relOf(n.relation), privilege: 'INSERT', at });
          break;
        case 'UpdateStmt': {
          const rel = relOf(n.relation);
          const set = updated.get(relKey(rel)) ?? new Set<string>();
          for (const t of (n.targetList as AstNode[] | undefined) ?? []) set.add(String((t.ResTarget as AstNode | undefined)?.name));
          updated.set(relKey(rel), set);
          out.push({ kind: 'writes', rel, privilege: 'UPDATE', at });
          break;
        }
        case 'DeleteStmt':
          out.push({ kind: 'writes', rel: relOf(n.relation), privilege: 'DELETE', at });
          break;
      }
    }
  }
  return out;
}
