// Destructive statements in pending SQL (DESIGN.md "lint"): pure, from the parse trees of
// lib/sql/statements.ts, no database. A statement is destructive when it can destroy data
// that exists when the plan is made: the whole pending run is read in order (lib/lint/state.ts),
// so a table, column, type or schema an earlier pending step made holds none, nor does a
// table the plan read as empty. A finding blocks the run unless its author reviewed it
// (`-- upkit:safe <why>`) or the operator accepts it (--allow-destructive[=TAG,…]).
import {
  fromParts,
  inspectAlterTable,
  inspectDml,
  inspectDrop,
  inspectRename,
  moveSchema,
  named,
  shown,
  type Found,
  type LintRule,
  type RangeVarNode,
} from './lint/rules.ts';
import { RunState, type LiveCatalog } from './lint/state.ts';
import { statementText, stringsOf } from './sql/statements.ts';
import type { AstNode, ParsedStatement } from './sql/statements.ts';

export type { LiveCatalog } from './lint/state.ts';

export type { LintRule } from './lint/rules.ts';

/** Who let a finding through: its author (`-- upkit:safe`), the operator for every file, or for its file by tag. */
export type Acceptance = 'upkit:safe' | '--allow-destructive' | '--allow-destructive=TAG';

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
  /** Whether the run may apply it, and who said so; false: it refuses the run. */
  accepted: boolean;
  acceptedBy: Acceptance | null;
}

export interface LintContext {
  /** Whether the live table `schema.table` holds a row; undefined = unknown, treated as filled. */
  tableHasRows(table: string): boolean | undefined;
  /** What the database held when the plan was made; without it every object named is taken to exist. */
  live?: LiveCatalog;
  /** The schema unqualified names resolve to (upkit pins search_path to it); public when absent. */
  schema?: string;
  /**
   * The schemas of the sessions' search_path, in order ("$user" read as the role): unqualified
   * names resolve as PostgreSQL resolves them. Without it, `[schema]`.
   */
  searchPath?: readonly string[];
}

/** The statements of one file, in the order they run; `file` is how findings name it. */
export interface LintFile {
  file: string;
  statements: readonly ParsedStatement[];
}

/** Lints a whole pending run, file after file, in the order the statements run. */
export function lintRun(files: readonly LintFile[], context: LintContext): LintFinding[] {
  const state = new RunState(
    context.searchPath?.length ? context.searchPath : [context.schema ?? 'public'],
    context.live,
    (t) => context.tableHasRows(t),
  );
  const findings: LintFinding[] = [];
  for (const { file, statements } of files) {
    for (const s of statements) {
      const first = statementText(s).split('\n')[0]!.trim().slice(0, 120);
      const safe = s.safe ?? null;
      for (const f of inspect(s, state))
        findings.push({
          file,
          line: s.line,
          ...f,
          statement: first,
          safe,
          accepted: safe !== null,
          acceptedBy: safe !== null ? 'upkit:safe' : null,
        });
    }
  }
  return findings;
}

/** One file on its own (a down file, say): nothing known of what ran before it. */
export function lintStatements(
  statements: readonly ParsedStatement[],
  file: string,
  context: LintContext,
): LintFinding[] {
  return lintRun([{ file, statements }], context);
}

/** The findings nobody accepted: each refuses the run. */
export function blocking(findings: readonly LintFinding[]): LintFinding[] {
  return findings.filter((f) => !f.accepted);
}

/** What the statement may destroy, judged on the state before it; then the state after it. */
function inspect(s: ParsedStatement, state: RunState): Found[] {
  const n = s.node;
  switch (s.kind) {
    case 'CreateStmt': {
      const rel = named(n.relation);
      state.makeRelation(
        state.newRelationKey(rel, (n.relation as RangeVarNode | undefined)?.relpersistence === 't'),
        n.if_not_exists === true,
      );
      return [];
    }
    case 'CreateTableAsStmt': {
      const into = ((n.into as AstNode | undefined)?.rel ?? {}) as RangeVarNode;
      state.makeRelation(state.newRelationKey(named(into), into.relpersistence === 't'), n.if_not_exists === true);
      return [];
    }
    case 'SelectStmt': {
      // SELECT … INTO makes a table.
      const into = ((n.intoClause as AstNode | undefined)?.rel ?? undefined) as RangeVarNode | undefined;
      if (into) state.makeRelation(state.newRelationKey(named(into), into.relpersistence === 't'), false);
      return inspectDml(s.kind, n, state);
    }
    case 'ViewStmt':
      state.makeRelation(state.newRelationKey(named(n.view)), n.replace === true);
      return [];
    case 'CreateSeqStmt':
      state.makeRelation(state.newRelationKey(named(n.sequence)), n.if_not_exists === true);
      return [];
    case 'IndexStmt':
      // An index lives in its table's schema.
      if (typeof n.idxname === 'string') {
        const table = state.relationKey(named(n.relation));
        state.makeRelation(`${table.slice(0, table.indexOf('.'))}.${n.idxname}`, n.if_not_exists === true);
      }
      return [];
    case 'CreateSchemaStmt':
      state.makeSchema(String(n.schemaname), n.if_not_exists === true);
      return [];
    case 'CreateEnumStmt':
    case 'CreateRangeStmt':
      state.makeType(state.newTypeKey(fromParts(stringsOf(n.typeName))));
      return [];
    case 'CreateDomainStmt':
      state.makeType(state.newTypeKey(fromParts(stringsOf(n.domainname))));
      return [];
    case 'CompositeTypeStmt':
      state.makeType(state.newTypeKey(named(n.typevar)));
      return [];
    case 'DoStmt':
    case 'CreateFunctionStmt':
      // Opaque to the parser: nothing to find in them, but they may move what later statements name.
      state.opaqueBody(s.sql);
      return [];
    case 'DropStmt':
      return inspectDrop(n, state);
    case 'AlterTableStmt':
      return inspectAlterTable(n, state);
    case 'TruncateStmt':
      return ((n.relations as AstNode[] | undefined) ?? []).flatMap((r) => {
        const rel = named(r.RangeVar);
        // CASCADE empties every table with a foreign key to it as well, whatever it holds.
        const free =
          state.relationIsFree(state.relationKey(rel)) && (n.behavior !== 'DROP_CASCADE' || state.nothingToLose);
        return free
          ? []
          : [
              {
                rule: 'truncate' as const,
                object: shown(rel),
                message: `empties table ${shown(rel)} (every row is deleted)`,
              },
            ];
      });
    case 'RenameStmt':
      return inspectRename(n, state);
    case 'AlterObjectSchemaStmt':
      moveSchema(n, state);
      return [];
    default:
      // DELETE and UPDATE are looked for anywhere in the tree: a data-modifying WITH hides
      // them inside an INSERT or a SELECT.
      return inspectDml(s.kind, n, state);
  }
}
