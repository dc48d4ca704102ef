// Rows a new unique index or constraint, primary key or validated foreign key would reject.
import type { Client } from 'pg';
import { isPgError } from '../pgError.ts';
import type { Problem } from '../plan.ts';
import { columnOf, duplicates, namedExists, orphans, type LiveRelation } from './catalog.ts';
import { relKey, type Intent } from './intents.ts';
import { AGAIN, where } from './text.ts';
import { plural } from '../plural.ts';

/**
 * Rows a new unique index, unique constraint, primary key or validated foreign key would
 * reject: duplicates, and rows pointing at nothing. Only where no earlier pending statement
 * writes those tables (or names them in a DO block): then the rows are as they will be met.
 * Only columns that exist now are read: one a pending step adds (or drops and adds again)
 * holds no rows of the past, so there is nothing to check, and reading it would fail. The
 * same for anything else the rows are read through (a function an expression index calls):
 * what a pending step creates first is not there yet, and the check is left to the run.
 */
export async function constraintProblems(
  client: Pick<Client, 'query'>,
  intents: readonly Intent[],
  current: ReadonlyArray<LiveRelation | undefined>,
  live: Map<string, LiveRelation>,
): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const [n, i] of intents.entries()) {
    const rel = current[n];
    if (!rel || (i.kind !== 'unique' && i.kind !== 'foreign_key') || i.touched) continue;
    const dropped = (r: LiveRelation, column: string) =>
      intents.slice(0, n).some((x, k) => x.kind === 'drop_column' && current[k] === r && x.column === column);
    const present = (r: LiveRelation, columns: readonly string[]) =>
      columns.every((c) => columnOf(r, c) && !dropped(r, c));
    if (!present(rel, i.kind === 'unique' ? i.reads : i.columns)) continue;
    if (i.name && (await namedExists(client, rel.oid, i.name))) continue;
    if (i.kind === 'unique') {
      const found = await unlessPending(client, () => duplicates(client, rel.qualified, i.columns));
      if (!found || found.groups === 0) continue;
      const { groups, examples } = found;
      problems.push({
        code: 'check.duplicates',
        message:
          `${where(i.at)} ${i.what}${i.name ? ` ${i.name}` : ''} on ${rel.shown} (${i.columns.join(', ')}` +
          `), but ${plural(groups, 'value')} occur${groups === 1 ? 's' : ''} in ` +
          `more than one row: ${examples.join('; ')}${groups > examples.length ? '; …' : ''}`,
        hint: `decide which row keeps each value, change or delete the others, ${AGAIN}`,
      });
      continue;
    }
    const parent = live.get(relKey(i.ref));
    if (!parent || !present(parent, i.refColumns)) continue;
    const found = await unlessPending(client, () =>
      orphans(client, rel.qualified, i.columns, parent.qualified, i.refColumns),
    );
    if (!found || found.count === 0) continue;
    const { count, query } = found;
    problems.push({
      code: 'check.orphans',
      message:
        `${where(i.at)} adds foreign key${i.name ? ` ${i.name}` : ''} from ${rel.shown} (` +
        `${i.columns.join(', ')}) to ${parent.shown} (${i.refColumns.join(', ')}), ` +
        `but ${plural(count, 'row')} point${count === 1 ? 's' : ''} at no row of ${parent.shown}`,
      hint:
        `point them at existing rows, set those columns to NULL ` +
        `or delete them (list them with: ${query}), ${AGAIN}`,
    });
  }
  return problems;
}

/** SQLSTATEs of an object that does not exist (yet): column, table, function, type or other object. */
const NOT_YET = new Set(['42703', '42P01', '42883', '42704']);

/**
 * Runs a read of the rows under a savepoint: when it names something that does not exist now
 * (a pending step creates it first), there are no past rows to check through it: undefined.
 */
async function unlessPending<T>(client: Pick<Client, 'query'>, read: () => Promise<T>): Promise<T | undefined> {
  await client.query('savepoint upkit_check');
  try {
    const out = await read();
    await client.query('release savepoint upkit_check');
    return out;
  } catch (err) {
    await client.query('rollback to savepoint upkit_check');
    await client.query('release savepoint upkit_check');
    if (isPgError(err) && NOT_YET.has(err.code!)) return undefined;
    throw err;
  }
}
