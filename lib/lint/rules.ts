// The lint's rules, one statement at a time: what it may destroy, judged on the run's state
// before it (lib/lint/state.ts), and what it does to that state. lib/lint.ts runs them in order.
import { qualifiedNames, stringsOf, walk } from '../sql/statements.ts';
import type { AstNode } from '../sql/statements.ts';
import type { Named, RunState } from './state.ts';

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

/** A finding before the lint adds where it is and who accepted it. */
export interface Found {
  rule: LintRule;
  object: string;
  message: string;
}

export interface RangeVarNode {
  relname?: string;
  schemaname?: string;
  relpersistence?: string;
}

export function named(rel: unknown): Named {
  const r = (rel ?? {}) as RangeVarNode;
  return { schema: r.schemaname, name: r.relname ?? '?' };
}

/** How a message names an object: as the SQL wrote it. */
export function shown(n: Named): string {
  return n.schema ? `${n.schema}.${n.name}` : n.name;
}

export function fromParts(parts: string[]): Named {
  return { schema: parts.length > 1 ? parts.at(-2) : undefined, name: parts.at(-1) ?? '?' };
}

// Serial types carry their own default (a sequence), so a NOT NULL serial column fills itself.
const SELF_FILLING = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

export function inspectDrop(node: AstNode, state: RunState): Found[] {
  const cascade = node.behavior === 'DROP_CASCADE';
  const objects = qualifiedNames(node.objects);
  const through = cascade ? ', and through CASCADE everything that depends on it' : '';
  const found: Found[] = [];
  for (const parts of objects) {
    const name = parts.join('.');
    switch (node.removeType) {
      case 'OBJECT_TABLE': {
        const key = state.relationKey(fromParts(parts));
        // CASCADE drops views and foreign keys of other tables, never their rows.
        if (!state.relationIsFree(key))
          found.push({ rule: 'drop_table', object: name, message: `drops table ${name} and its data${through}` });
        state.dropRelation(key);
        break;
      }
      case 'OBJECT_SCHEMA': {
        const free = state.schemaIsFree(name) || (cascade && state.schemaHoldsNoRows(name));
        if (!free)
          found.push({
            rule: 'drop_schema',
            object: name,
            message: cascade
              ? `drops schema ${name} and every table and object in it`
              : `drops schema ${name} (fails unless it is empty)`,
          });
        state.dropSchema(name);
        break;
      }
      case 'OBJECT_TYPE':
      case 'OBJECT_DOMAIN': {
        const key = state.typeKey(fromParts(parts));
        const free = state.typeIsFree(key) && !(cascade && state.typeCarriesData(key));
        if (!free)
          found.push({
            rule: 'drop_type',
            object: name,
            message: cascade
              ? `drops type ${name} and, through CASCADE, every column of that type with its data`
              : `drops type ${name} (fails while a column uses it)`,
          });
        state.dropType(key);
        break;
      }
      case 'OBJECT_INDEX':
        // An index holds no data and is rebuilt from the table: never destructive.
        state.dropRelation(state.relationKey(fromParts(parts)));
        break;
      case 'OBJECT_VIEW':
      case 'OBJECT_MATVIEW':
      case 'OBJECT_SEQUENCE':
      case 'OBJECT_FOREIGN_TABLE': {
        // A view or sequence holds no rows of its own: only CASCADE reaches further.
        const key = state.relationKey(fromParts(parts));
        if (cascade && !state.relationIsFree(key)) found.push(cascaded(node, name));
        state.dropRelation(key);
        break;
      }
      case 'OBJECT_POLICY':
      case 'OBJECT_TRIGGER':
      case 'OBJECT_RULE':
        // Nothing depends on them, CASCADE or not.
        break;
      default:
        if (cascade && !state.nothingToLose) found.push(cascaded(node, name));
    }
  }
  return found;
}

function cascaded(node: AstNode, name: string): Found {
  const what = String(node.removeType).replace('OBJECT_', '').toLowerCase().replace(/_/g, ' ');
  return {
    rule: 'drop_table',
    object: name,
    message: `drops ${what} ${name} and, through CASCADE, everything that depends on it (columns, views, constraints)`,
  };
}

export function inspectAlterTable(node: AstNode, state: RunState): Found[] {
  const rel = named(node.relation);
  const table = state.relationKey(rel);
  const found: Found[] = [];
  for (const wrapped of (node.cmds as AstNode[] | undefined) ?? []) {
    const cmd = (wrapped.AlterTableCmd ?? {}) as AstNode;
    const name = String(cmd.name);
    const column = `${shown(rel)}.${name}`;
    switch (cmd.subtype) {
      case 'AT_DropColumn':
        if (!state.columnIsFree(table, name))
          found.push({ rule: 'drop_column', object: column, message: `drops column ${column} and its data` });
        state.dropColumn(table, name);
        break;
      case 'AT_AlterColumnType': {
        if (!state.columnIsFree(table, name) && !toText(cmd))
          found.push({
            rule: 'alter_column_type',
            object: column,
            message: `changes the type of ${column} (rewrites the table; values that do not convert fail or change)`,
          });
        const def = ((cmd.def as AstNode | undefined)?.ColumnDef ?? {}) as AstNode;
        state.retypeColumn(
          table,
          name,
          state.typeKey(fromParts(stringsOf((def.typeName as AstNode | undefined)?.names))),
        );
        break;
      }
      case 'AT_SetNotNull':
        if (!state.columnIsFree(table, name))
          found.push({
            rule: 'set_not_null',
            object: column,
            message: `makes ${column} NOT NULL (fails if a row holds NULL; ${shown(rel)} has rows or may have)`,
          });
        break;
      case 'AT_AddColumn': {
        const def = ((cmd.def as AstNode | undefined)?.ColumnDef ?? {}) as AstNode;
        const added = `${shown(rel)}.${String(def.colname)}`;
        if (requiresValue(def) && !state.relationIsFree(table)) {
          found.push({
            rule: 'set_not_null',
            object: added,
            message:
              `adds ${added} NOT NULL without a default (fails: ` +
              `the existing rows of ${shown(rel)} would hold NULL)`,
          });
        }
        state.addColumn(table, String(def.colname), cmd.missing_ok === true);
        break;
      }
    }
  }
  return found;
}

/**
 * A retype to text (or varchar without a length) without USING: every value converts to
 * its text form, which keeps all of it (PostgreSQL's I/O conversion exists for every type).
 */
function toText(cmd: AstNode): boolean {
  const def = ((cmd.def as AstNode | undefined)?.ColumnDef ?? {}) as AstNode;
  const type = (def.typeName ?? {}) as AstNode;
  const names = stringsOf(type.names).join('.');
  if (def.raw_default !== undefined || type.arrayBounds !== undefined) return false;
  return (
    names === 'text' || names === 'pg_catalog.text' || (names === 'pg_catalog.varchar' && type.typmods === undefined)
  );
}

/** A new column that existing rows cannot fill: NOT NULL (or primary key) with no default of any kind. */
function requiresValue(def: AstNode): boolean {
  const types = ((def.constraints as AstNode[] | undefined) ?? []).map(
    (c) => (c.Constraint as AstNode | undefined)?.contype,
  );
  const notNull = types.includes('CONSTR_NOTNULL') || types.includes('CONSTR_PRIMARY');
  const fills = types.some((t) => t === 'CONSTR_DEFAULT' || t === 'CONSTR_IDENTITY' || t === 'CONSTR_GENERATED');
  const typeName = stringsOf((def.typeName as AstNode | undefined)?.names).at(-1) ?? '';
  return notNull && !fills && !SELF_FILLING.has(typeName);
}

const RELATION_KINDS = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_INDEX',
  'OBJECT_SEQUENCE',
  'OBJECT_FOREIGN_TABLE',
]);

export function inspectRename(node: AstNode, state: RunState): Found[] {
  const type = String(node.renameType);
  const label =
    type === 'OBJECT_TABCONSTRAINT' ? 'constraint' : type.replace('OBJECT_', '').toLowerCase().replace(/_/g, ' ');
  const newname = String(node.newname);
  let object: string;
  let free: boolean;
  if (node.relation) {
    const rel = named(node.relation);
    const key = state.relationKey(rel);
    object = node.subname ? `${shown(rel)}.${String(node.subname)}` : shown(rel);
    free = type === 'OBJECT_COLUMN' ? state.columnIsFree(key, String(node.subname)) : state.relationIsFree(key);
    if (type === 'OBJECT_COLUMN') state.renameColumn(key, String(node.subname), newname);
    else if (RELATION_KINDS.has(type) && !node.subname)
      state.renameRelation(key, `${key.slice(0, key.indexOf('.'))}.${newname}`);
  } else if (type === 'OBJECT_SCHEMA') {
    object = String(node.subname);
    free = state.schemaIsFree(object);
    state.renameSchema(object, newname);
  } else if (type === 'OBJECT_TYPE' || type === 'OBJECT_DOMAIN') {
    const parts = qualifiedNames([node.object])[0] ?? [];
    object = parts.join('.');
    const key = state.typeKey(fromParts(parts));
    free = state.typeIsFree(key);
    state.renameType(key, `${key.slice(0, key.indexOf('.'))}.${newname}`);
  } else {
    object = qualifiedNames([node.object])[0]?.join('.') || String(node.subname ?? '?');
    free = state.nothingToLose;
  }
  return free
    ? []
    : [
        {
          rule: 'rename',
          object,
          message: `renames ${label} ${object} to ${newname} (code that still uses the old name fails)`,
        },
      ];
}

/** ALTER TABLE/TYPE … SET SCHEMA: the object goes on under its new name. */
export function moveSchema(node: AstNode, state: RunState): void {
  const to = String(node.newschema);
  const type = String(node.objectType);
  if (node.relation && RELATION_KINDS.has(type)) {
    const rel = named(node.relation);
    state.renameRelation(state.relationKey(rel), `${to}.${rel.name}`);
  } else if (type === 'OBJECT_TYPE' || type === 'OBJECT_DOMAIN') {
    const from = fromParts(qualifiedNames([node.object])[0] ?? []);
    state.renameType(state.typeKey(from), `${to}.${from.name}`);
  }
}

export function inspectDml(kind: string, node: AstNode, state: RunState): Found[] {
  const found: Found[] = [];
  walk({ [kind]: node }, (x) => {
    const del = x.DeleteStmt as AstNode | undefined;
    if (del && !del.whereClause) {
      const rel = named(del.relation);
      if (!state.relationIsFree(state.relationKey(rel)))
        found.push({ rule: 'delete_without_where', object: shown(rel), message: `deletes every row of ${shown(rel)}` });
    }
    const upd = x.UpdateStmt as AstNode | undefined;
    if (upd && !upd.whereClause) {
      const rel = named(upd.relation);
      const key = state.relationKey(rel);
      const columns = ((upd.targetList as AstNode[] | undefined) ?? []).map((r) =>
        String((r.ResTarget as AstNode | undefined)?.name),
      );
      // A backfill: every column it sets was added by the run, so none held a value before.
      if (!columns.every((c) => state.columnIsFree(key, c)))
        found.push({
          rule: 'update_without_where',
          object: shown(rel),
          message: `overwrites ${[...new Set(columns)].join(', ')} in every row of ${shown(rel)}`,
        });
    }
  });
  return found;
}
