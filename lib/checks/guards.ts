// A DO block that only reads and RAISEs is a guard its author wrote to stop a file before it
// changes anything (Pulse's v1.3 lists users whose emails differ only by case). Pending
// guards are run now, in the plan's read-only transaction, each under a savepoint that is
// always rolled back: one that RAISEs is a refusal before the first write, with its message
// and hint. One that tries to write, or meets anything but its own RAISE, says nothing and is
// left to the run. So is one whose tables an earlier pending statement changes first (rows
// inserted or deleted, or a column it names updated or altered): it would read other rows then.
import type { Client } from 'pg';
import type { Problem } from '../plan.ts';
import type { AstNode, ParsedStatement } from '../sql/statements.ts';
import { mentions, relOf } from './intents.ts';

/**
 * Whether an earlier statement changes what a guard (its SQL text) would read; `tables`: every table pending statements
 * name.
 */
function changesFor(guard: string, s: ParsedStatement, tables: readonly string[]): boolean {
  const n = s.node;
  const named = (rel: unknown) => mentions(guard, relOf(rel).name);
  switch (s.kind) {
    case 'InsertStmt':
    case 'DeleteStmt':
      return named(n.relation);
    case 'TruncateStmt':
      return ((n.relations as AstNode[] | undefined) ?? []).some((r) => named(r.RangeVar));
    case 'UpdateStmt':
      return (
        named(n.relation) &&
        ((n.targetList as AstNode[] | undefined) ?? []).some((t) =>
          mentions(guard, String((t.ResTarget as AstNode | undefined)?.name)),
        )
      );
    case 'AlterTableStmt':
      return (
        named(n.relation) &&
        ((n.cmds as AstNode[] | undefined) ?? []).some((c) => {
          const cmd = (c.AlterTableCmd ?? {}) as AstNode;
          return (
            (cmd.subtype === 'AT_AlterColumnType' || cmd.subtype === 'AT_DropColumn') &&
            mentions(guard, String(cmd.name))
          );
        })
      );
    case 'DoStmt':
    case 'CreateFunctionStmt':
      // Opaque: when it writes at all, it may write any table it names that the guard names too.
      return (
        /\b(insert|update|delete|truncate)\b/i.test(s.sql) &&
        tables.some((t) => mentions(s.sql, t) && mentions(guard, t))
      );
    default:
      return false;
  }
}

export async function guardProblems(
  client: Pick<Client, 'query'>,
  files: ReadonlyArray<{ file: string; statements: readonly ParsedStatement[] }>,
): Promise<Problem[]> {
  const all = files.flatMap(({ file, statements }) => statements.map((s) => ({ file, s })));
  const tables = [...new Set(all.flatMap(({ s }) => s.relations.map((r) => r.split('.').pop()!)))];
  const problems: Problem[] = [];
  for (const [i, { file, s }] of all.entries()) {
    if (s.kind !== 'DoStmt') continue;
    if (all.slice(0, i).some((e) => changesFor(s.sql, e.s, tables))) continue;
    await client.query('savepoint upkit_guard');
    try {
      await client.query(s.sql);
    } catch (err) {
      const e = err as { message?: string; code?: string; hint?: string; where?: string };
      // Only the guard's own RAISE speaks; anything else (a write refused in a read-only
      // transaction, an object a pending statement creates first) is for the run to meet.
      if (/\bat RAISE$/m.test(e.where ?? '')) {
        problems.push({
          code: 'check.guard',
          message:
            `${file}:${s.line}: ERROR ${e.code}: ${e.message} (a ` +
            `check of that file, run read-only before any change)`,
          hint: e.hint ?? 'fix what it names, then run the upgrade again; nothing was changed',
        });
      }
    } finally {
      // Rolled back even when it passed: settings it made (set_config) must not outlive it.
      await client.query('rollback to savepoint upkit_guard');
      await client.query('release savepoint upkit_guard');
    }
  }
  return problems;
}
