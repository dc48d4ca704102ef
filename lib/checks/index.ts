// Checks before the first write (DESIGN.md "Never": a write before every check that can be
// done read-only has passed). What a pending statement will meet in the live database is
// read now, in the plan's read-only transaction, and every obstacle is a refusal (exit 3,
// nothing changed) naming the objects and the SQL that clears them: a server or role that
// cannot write, an extension the server lacks, a table this role does not own or may not
// write, views and other objects that block a column's type change or drop, NULLs that a
// pending NOT NULL rejects, duplicates a new unique index and orphans a new foreign key
// reject, a NOT NULL dropped by hand on a table a pending migration uses, tables an earlier,
// unfinished script left in an older shape, and the guards (DO blocks that RAISE) of pending
// files, run read-only.
import type { Client } from 'pg';
import type { Content } from '../content.ts';
import type { Plan, Problem } from '../plan.ts';
import { sqlIdent } from '../quote.ts';
import type { ParsedStatement } from '../sql/statements.ts';
import { countNulls, duplicates, hasRows, namedExists, orphans, readDependents, readRelations, typeOids, type LiveRelation } from './catalog.ts';
import { driftProblems } from './drift.ts';
import { extensionProblems } from './extensions.ts';
import { guardProblems } from './guards.ts';
import { intentsOf, relKey, type At, type Intent, type Rel } from './intents.ts';
import { readWriteFacts, writeProblems } from './role.ts';

export { extensionPackage } from './extensions.ts';
export { readWriteFacts, writeProblems } from './role.ts';

const AGAIN = 'then run the upgrade again; nothing was changed';

/** The statements the plan's steps will run, in order, each file as messages name it. */
export function pendingFiles(plan: Pick<Plan, 'steps'>, content: Pick<Content, 'statements'>): Array<{ file: string; statements: ParsedStatement[] }> {
  const out: Array<{ file: string; statements: ParsedStatement[] }> = [];
  for (const step of plan.steps) {
    if (step.kind === 'legacy') {
      // comprehensive-upgrade.sql stands for the files; they run only if it fails on its SQL.
      for (const f of step.comprehensive ? [step.comprehensive] : step.files) out.push({ file: f.file, statements: content.statements.get(f.file) ?? [] });
    } else if (step.kind === 'drizzle') {
      const done = new Set(step.resumes);
      const statements = (content.statements.get(step.tag) ?? []).filter((s) => (s.transactional ? !done.has('transaction') : !done.has(`before:${s.index}`) && !done.has(`after:${s.index}`)));
      out.push({ file: `${step.tag}.sql`, statements });
    }
  }
  return out;
}

const where = (at: At) => `${at.file}:${at.line}`;

const KIND_WORD: Record<string, string> = { r: 'table', p: 'table', v: 'view', m: 'materialized view', S: 'sequence', f: 'foreign table' };

function listed(items: readonly string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** Every problem the plan's pending statements would meet; [] when nothing stands in the way. */
export async function checkBeforeWrite(client: Pick<Client, 'query'>, plan: Pick<Plan, 'steps'>, content: Pick<Content, 'statements' | 'migrations' | 'drizzleDir'>): Promise<Problem[]> {
  if (plan.steps.length === 0) return [];
  const facts = await readWriteFacts(client);
  const problems = writeProblems(facts);
  // A role that cannot create at all is refused by the privileges check, with its GRANT.
  if (problems.length || !facts.canCreate) return problems;
  const files = pendingFiles(plan, content);
  const intents = intentsOf(files);
  problems.push(...(await extensionProblems(client, intents.flatMap((i) => (i.kind === 'extension' ? [i] : [])))));
  const live = await readRelations(client, intents.flatMap((i) => ('rel' in i ? [i.rel, ...(i.kind === 'foreign_key' ? [i.ref] : [])] : [])));
  // A relation a pending statement drops (or creates anew after dropping) is no longer the live one.
  const current = existingAt(intents, live);
  problems.push(...accessProblems(intents, current, facts.user));
  problems.push(...(await dependentProblems(client, intents, current)));
  problems.push(...(await nullProblems(client, intents, current)));
  problems.push(...(await shapeProblems(client, intents, current)));
  problems.push(...(await constraintProblems(client, intents, current, live)));
  problems.push(...(await driftProblems(client, plan, content)));
  problems.push(...(await guardProblems(client, files)));
  return problems;
}

/** The plan with what the checks found added to its refusals (a refusal stops the run, exit 3). */
export async function withChecks(client: Pick<Client, 'query'>, plan: Plan, content: Pick<Content, 'statements' | 'migrations' | 'drizzleDir'>): Promise<Plan> {
  const found = await checkBeforeWrite(client, plan, content);
  return found.length ? { ...plan, refusals: [...plan.refusals, ...found] } : plan;
}

/** For each intent (by index), the live relation it acts on, or undefined when the run has dropped or not yet made it. */
function existingAt(intents: readonly Intent[], live: Map<string, LiveRelation>): Array<LiveRelation | undefined> {
  const gone = new Set<string>();
  return intents.map((i) => {
    if (!('rel' in i)) return undefined;
    const key = relKey(i.rel);
    const found = gone.has(key) ? undefined : live.get(key);
    if (i.kind === 'drop_table' || i.kind === 'drop_view') gone.add(key);
    return found;
  });
}

function accessProblems(intents: readonly Intent[], current: ReadonlyArray<LiveRelation | undefined>, user: string): Problem[] {
  const role = sqlIdent(user);
  const problems: Problem[] = [];
  const notOwned = new Map<number, { rel: LiveRelation; at: At; does: string }>();
  const denied = new Map<string, { rel: LiveRelation; privilege: string; at: At }>();
  intents.forEach((i, n) => {
    const rel = current[n];
    if (!rel) return;
    if (i.kind === 'owns' && !rel.owns && !notOwned.has(rel.oid)) notOwned.set(rel.oid, { rel, at: i.at, does: i.does });
    if (i.kind === 'writes' && !rel.privileges[i.privilege] && !denied.has(`${rel.oid}:${i.privilege}`)) denied.set(`${rel.oid}:${i.privilege}`, { rel, privilege: i.privilege, at: i.at });
  });
  if (notOwned.size) {
    const items = [...notOwned.values()];
    const what = (x: (typeof items)[number]) => `${KIND_WORD[x.rel.kind] ?? 'relation'} ${x.rel.shown} (owned by ${sqlIdent(x.rel.owner)}; ${where(x.at)} ${x.does} it)`;
    const alters = items.map((x) => `ALTER ${(KIND_WORD[x.rel.kind] ?? 'table').toUpperCase()} ${x.rel.qualified} OWNER TO ${role};`);
    const grants = [...new Set(items.map((x) => `GRANT ${sqlIdent(x.rel.owner)} TO ${role};`))];
    problems.push({
      code: 'check.owner',
      message: items.length === 1
        ? `role ${role} does not own ${what(items[0]!)}, and only its owner may do that`
        : `role ${role} does not own ${items.length} relations that pending statements alter, which only their owners may do: ${listed(items.map(what))}`,
      hint: `as an administrator: ${alters.join(' ')} (or let ${role} act as the owner: ${grants.join(' ')}), ${AGAIN}`,
    });
  }
  if (denied.size) {
    const items = [...denied.values()];
    problems.push({
      code: 'check.privilege',
      message: `role ${role} lacks ${listed(items.map((x) => `${x.privilege} on ${x.rel.shown} (${where(x.at)})`))}`,
      hint: `as an administrator: ${items.map((x) => `GRANT ${x.privilege} ON ${x.rel.qualified} TO ${role};`).join(' ')} ${AGAIN}`,
    });
  }
  return problems;
}

function columnOf(rel: LiveRelation, name: string) {
  return rel.columns.find((c) => c.name === name);
}

async function dependentProblems(client: Pick<Client, 'query'>, intents: readonly Intent[], current: ReadonlyArray<LiveRelation | undefined>): Promise<Problem[]> {
  const asks: Array<{ n: number; oid: number; attnum: number }> = [];
  intents.forEach((i, n) => {
    const rel = current[n];
    if (!rel) return;
    if (i.kind === 'retype' || i.kind === 'drop_column') {
      const col = columnOf(rel, i.column);
      if (col) asks.push({ n, oid: rel.oid, attnum: col.num });
    } else if (i.kind === 'drop_table') asks.push({ n, oid: rel.oid, attnum: 0 });
  });
  const dependents = await readDependents(client, asks);
  const problems: Problem[] = [];
  for (const ask of asks) {
    const i = intents[ask.n]!;
    // Views a pending statement drops before this one no longer stand in the way.
    const dropped = intents.slice(0, ask.n).flatMap((x) => (x.kind === 'drop_view' ? [x.rel] : []));
    const isDropped = (d: { schema: string | null; name: string | null }) => dropped.some((r: Rel) => r.name === d.name && (r.schema === null || r.schema === d.schema));
    const found = dependents.filter((d) => d.on === `${ask.oid}:${ask.attnum}` && !isDropped(d));
    if (found.length === 0) continue;
    const rel = current[ask.n]!;
    const target = i.kind === 'drop_table' ? `drops table ${rel.shown}` : `${i.kind === 'retype' ? 'changes the type of' : 'drops column'} ${rel.shown}.${(i as { column: string }).column}`;
    const views = found.filter((d) => d.kind === 'view' || d.kind === 'materialized view');
    const others = found.filter((d) => !views.includes(d));
    const steps: string[] = [];
    if (views.length) {
      const keep = views.map((v) => `SELECT pg_get_viewdef(${`'${v.qualified.replace(/'/g, "''")}'`}::regclass, true);`).join(' ');
      const drop = views.map((v) => `DROP ${v.kind === 'view' ? 'VIEW' : 'MATERIALIZED VIEW'} ${v.qualified};`).join(' ');
      steps.push(`keep the definition of ${views.length === 1 ? 'the view' : 'the views'} (${keep}), drop ${views.length === 1 ? 'it' : 'them'} (${drop}), run the upgrade again, then create ${views.length === 1 ? 'it' : 'them'} anew`);
    }
    if (others.length) steps.push(`drop ${listed(others.map((d) => d.shown))} for the upgrade and create ${others.length === 1 ? 'it' : 'them'} again afterwards`);
    problems.push({
      code: 'check.dependent_objects',
      message: `${where(i.at)} ${target}, which ${listed(found.map((d) => d.shown))} ${found.length === 1 ? 'depends' : 'depend'} on: PostgreSQL refuses that while ${found.length === 1 ? 'it exists' : 'they exist'}`,
      hint: `${steps.join('; ')}; nothing was changed`,
    });
  }
  return problems;
}

async function nullProblems(client: Pick<Client, 'query'>, intents: readonly Intent[], current: ReadonlyArray<LiveRelation | undefined>): Promise<Problem[]> {
  const nulls: Array<{ i: Extract<Intent, { kind: 'set_not_null' }>; rel: LiveRelation }> = [];
  const adds: Array<{ i: Extract<Intent, { kind: 'add_not_null' }>; rel: LiveRelation }> = [];
  intents.forEach((i, n) => {
    const rel = current[n];
    if (!rel) return;
    const col = 'column' in i ? columnOf(rel, i.column) : undefined;
    if (i.kind === 'set_not_null' && !i.filled && col && !col.notnull) nulls.push({ i, rel });
    if (i.kind === 'add_not_null' && !col) adds.push({ i, rel });
  });
  const counts = await countNulls(client, nulls.map((x) => ({ qualified: x.rel.qualified, column: x.i.column })));
  const filled = await hasRows(client, adds.map((x) => x.rel.qualified));
  const problems: Problem[] = [];
  nulls.forEach(({ i, rel }, k) => {
    const n = counts[k]!;
    if (n === 0) return;
    const c = sqlIdent(i.column);
    problems.push({
      code: 'check.nulls',
      message: `${where(i.at)} makes ${rel.shown}.${i.column} NOT NULL, but ${n} row(s) hold NULL there`,
      hint: `give them a value (UPDATE ${rel.qualified} SET ${c} = <value> WHERE ${c} IS NULL;) or delete them, ${AGAIN}`,
    });
  });
  adds.forEach(({ i, rel }, k) => {
    if (!filled[k]) return;
    problems.push({
      code: 'check.nulls',
      message: `${where(i.at)} adds ${rel.shown}.${i.column} NOT NULL without a default, but ${rel.shown} has rows, which would hold NULL there: PostgreSQL refuses that`,
      hint: `the migration must give the column a default, or add it nullable, fill it and then set NOT NULL; ask its authors, ${AGAIN}`,
    });
  });
  return problems;
}

async function shapeProblems(client: Pick<Client, 'query'>, intents: readonly Intent[], current: ReadonlyArray<LiveRelation | undefined>): Promise<Problem[]> {
  const creates = intents.flatMap((i, n) => (i.kind === 'create_table' && current[n] ? [{ i, rel: current[n]! }] : []));
  if (creates.length === 0) return [];
  const declared = creates.flatMap(({ i }) => i.columns.map((c) => ({ schema: c.typeSchema, name: c.type })));
  const oids = await typeOids(client, declared);
  const rows = await hasRows(client, creates.map((x) => x.rel.qualified));
  let k = 0;
  const problems: Problem[] = [];
  for (const [n, { i, rel }] of creates.entries()) {
    const empty = !rows[n];
    const drop = `it holds no rows (an earlier run of other SQL that did not finish likely made it): drop it (DROP TABLE ${rel.qualified};) and the upgrade creates it whole, ${AGAIN}`;
    const typeOf = i.columns.map(() => oids[k++] ?? null);
    if (!i.ifNotExists) {
      problems.push({
        code: 'check.table_exists',
        message: `${where(i.at)} creates table ${rel.shown}, which already exists (made by hand, or by other SQL that did not finish)`,
        hint: empty ? drop : `move it out of the way (ALTER TABLE ${rel.qualified} RENAME TO ${sqlIdent(`${rel.shown.split('.').pop()}_old`)};) and copy its rows back after the upgrade, ${AGAIN}`,
      });
      continue;
    }
    const missing: string[] = [];
    const nullable: string[] = [];
    const retyped: string[] = [];
    i.columns.forEach((c, j) => {
      const col = columnOf(rel, c.name);
      if (!col) {
        if (!i.later.added.includes(c.name)) missing.push(c.name);
        return;
      }
      if (c.notNull && !col.notnull && !i.later.notNull.includes(c.name)) nullable.push(c.name);
      const want = typeOf[j];
      if (!c.array && want !== null && want !== col.typid && !i.later.retyped.includes(c.name)) retyped.push(`${c.name} is ${col.type}`);
    });
    if (missing.length + nullable.length + retyped.length === 0) continue;
    const counts = await countNulls(client, nullable.map((c) => ({ qualified: rel.qualified, column: c })));
    const parts = [
      missing.length ? `no column ${listed(missing)}` : '',
      ...nullable.map((c, j) => `${c} is nullable (${counts[j]} row(s) hold NULL)`),
      ...retyped,
    ].filter(Boolean);
    let hint: string;
    if (missing.length && empty) hint = drop;
    else if (missing.length || retyped.length) hint = `bring it to the shape ${where(i.at)} declares (ALTER TABLE ${rel.qualified} ADD COLUMN … / ALTER COLUMN … TYPE …), ${AGAIN}`;
    else {
      const fill = nullable.filter((_, j) => counts[j]! > 0).map((c) => `UPDATE ${rel.qualified} SET ${sqlIdent(c)} = <value> WHERE ${sqlIdent(c)} IS NULL;`);
      const set = `ALTER TABLE ${rel.qualified} ${nullable.map((c) => `ALTER COLUMN ${sqlIdent(c)} SET NOT NULL`).join(', ')};`;
      hint = `${fill.length ? `give the NULLs a value (${fill.join(' ')}), then ` : ''}restore the constraint: ${set} ${AGAIN}`;
    }
    problems.push({
      code: 'check.table_shape',
      message: `${rel.shown} differs from what ${where(i.at)} creates, and CREATE TABLE IF NOT EXISTS leaves it as it is: ${parts.join('; ')}`,
      hint,
    });
  }
  return problems;
}

/**
 * Rows a new unique index, unique constraint, primary key or validated foreign key would
 * reject: duplicates, and rows pointing at nothing. Only where no earlier pending statement
 * writes those tables (or names them in a DO block): then the rows are as they will be met.
 */
async function constraintProblems(client: Pick<Client, 'query'>, intents: readonly Intent[], current: ReadonlyArray<LiveRelation | undefined>, live: Map<string, LiveRelation>): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const [n, i] of intents.entries()) {
    const rel = current[n];
    if (!rel || (i.kind !== 'unique' && i.kind !== 'foreign_key') || i.touched) continue;
    if (i.name && (await namedExists(client, rel.oid, i.name))) continue;
    if (i.kind === 'unique') {
      const { groups, examples } = await duplicates(client, rel.qualified, i.columns);
      if (groups === 0) continue;
      problems.push({
        code: 'check.duplicates',
        message: `${where(i.at)} ${i.what}${i.name ? ` ${i.name}` : ''} on ${rel.shown} (${i.columns.join(', ')}), but ${groups} value(s) occur in more than one row: ${examples.join('; ')}${groups > examples.length ? '; …' : ''}`,
        hint: `decide which row keeps each value, change or delete the others, ${AGAIN}`,
      });
      continue;
    }
    const parent = live.get(relKey(i.ref));
    if (!parent) continue;
    const { count, query } = await orphans(client, rel.qualified, i.columns, parent.qualified, i.refColumns);
    if (count === 0) continue;
    problems.push({
      code: 'check.orphans',
      message: `${where(i.at)} adds foreign key${i.name ? ` ${i.name}` : ''} from ${rel.shown} (${i.columns.join(', ')}) to ${parent.shown} (${i.refColumns.join(', ')}), but ${count} row(s) point at no row of ${parent.shown}`,
      hint: `point them at existing rows, set those columns to NULL or delete them (list them with: ${query}), ${AGAIN}`,
    });
  }
  return problems;
}
