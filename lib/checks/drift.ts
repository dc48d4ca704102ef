// Pending migrations were written against the schema of the newest applied entry (its
// drizzle snapshot). A NOT NULL that someone dropped by hand since, on a table a pending
// statement uses, with NULLs now in that column, breaks what the migration relies on (an
// INSERT … SELECT into a NOT NULL column, a join, a later SET NOT NULL): refused before any
// change, naming the rows and the SQL that restores the constraint.
import type { Client } from 'pg';
import type { Content } from '../content.ts';
import type { Plan, Problem } from '../plan.ts';
import { sqlIdent } from '../quote.ts';
import type { ParsedStatement } from '../sql/statements.ts';
import { readSnapshot } from '../../verify/snapshot.ts';
import { countNulls, readRelations } from './catalog.ts';
import { mentions } from './intents.ts';
import { plural } from '../plural.ts';

/** Whether a statement uses the table: named as a relation, or, in an opaque body (DO, functions), as an identifier. */
function uses(s: ParsedStatement, schema: string, table: string): boolean {
  if (s.relations.some((r) => r === table || r === `${schema}.${table}`)) return true;
  return (s.kind === 'DoStmt' || s.kind === 'CreateFunctionStmt') && mentions(s.sql, table);
}

export async function driftProblems(
  client: Pick<Client, 'query'>,
  plan: Pick<Plan, 'steps'>,
  content: Pick<Content, 'migrations' | 'drizzleDir' | 'statements'>,
): Promise<Problem[]> {
  // On the legacy path the database is not at any entry yet: the shape checks cover it.
  if (plan.steps.some((s) => s.kind === 'baseline' || s.kind === 'legacy')) return [];
  const pending = plan.steps.flatMap((s) => (s.kind === 'drizzle' ? [s.tag] : []));
  if (pending.length === 0) return [];
  const applied = content.migrations.filter((m) => !pending.includes(m.tag));
  const newest = applied.at(-1);
  if (!newest) return [];
  let tables: ReturnType<typeof readSnapshot>['tables'];
  try {
    tables = readSnapshot(content.drizzleDir, { idx: newest.idx, tag: newest.tag, when: newest.when } as Parameters<
      typeof readSnapshot
    >[1]).tables;
  } catch {
    // Without that snapshot there is nothing to compare with; verification says so.
    return [];
  }
  const statements = pending.flatMap((tag) => (content.statements.get(tag) ?? []).map((s) => ({ tag, s })));
  const used = tables
    .map((t) => ({ t, by: statements.find(({ s }) => uses(s, t.schema, t.name)) }))
    .filter((x) => x.by);
  if (used.length === 0) return [];
  const live = await readRelations(
    client,
    used.map(({ t }) => ({ schema: t.schema, name: t.name })),
  );
  const loose: Array<{ qualified: string; shown: string; column: string; by: { tag: string; s: ParsedStatement } }> =
    [];
  for (const { t, by } of used) {
    const rel = live.get(`${t.schema}.${t.name}`);
    if (!rel) continue;
    for (const c of t.columns) {
      const col = rel.columns.find((x) => x.name === c.name);
      if (c.notNull && col && !col.notnull)
        loose.push({ qualified: rel.qualified, shown: rel.shown, column: c.name, by: by! });
    }
  }
  const counts = await countNulls(
    client,
    loose.map((l) => ({ qualified: l.qualified, column: l.column })),
  );
  return loose.flatMap((l, i) => {
    const n = counts[i]!;
    if (n === 0) return [];
    const c = sqlIdent(l.column);
    return [
      {
        code: 'check.not_null_dropped',
        message:
          `${l.shown}.${l.column} allows NULL and ${plural(n, 'row')} hold${n === 1 ? 's' : ''} it, ` +
          `but ${newest.tag}'s schema has it NOT NULL (changed by hand), ` +
          `and ${l.by.tag}.sql:${l.by.s.line} relies on ${l.shown}`,
        hint:
          `give them a value (UPDATE ${l.qualified} SET ${c} = <value> WHERE ${c} IS NULL;) ` +
          `or delete them, then restore the constraint: ALTER TABLE ${l.qualified} ` +
          `ALTER COLUMN ${c} SET NOT NULL; then run the upgrade again; nothing was changed`,
      },
    ];
  });
}
