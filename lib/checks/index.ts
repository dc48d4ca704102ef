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
import { isUpkitError, UpkitError } from '../errors.ts';
import { isPgError } from '../pgError.ts';
import { sqlIdent } from '../quote.ts';
import type { Plan, Problem } from '../plan.ts';
import type { ParsedStatement } from '../sql/statements.ts';
import { accessProblems } from './access.ts';
import { readRelations, type LiveRelation } from './catalog.ts';
import { constraintProblems } from './constraints.ts';
import { driftProblems } from './drift.ts';
import { extensionProblems } from './extensions.ts';
import { guardProblems } from './guards.ts';
import { intentsOf, relKey, type Intent } from './intents.ts';
import { dependentProblems, nullProblems, shapeProblems } from './objects.ts';
import { readWriteFacts, writeProblems } from './role.ts';

export { extensionPackage } from './extensions.ts';
export { readWriteFacts, writeProblems } from './role.ts';

/** The statements the plan's steps will run, in order, each file as messages name it. */
export function pendingFiles(
  plan: Pick<Plan, 'steps'>,
  content: Pick<Content, 'statements'>,
): Array<{ file: string; statements: ParsedStatement[] }> {
  const out: Array<{ file: string; statements: ParsedStatement[] }> = [];
  for (const step of plan.steps) {
    if (step.kind === 'legacy') {
      // comprehensive-upgrade.sql stands for the files; they run only if it fails on its SQL.
      for (const f of step.comprehensive ? [step.comprehensive] : step.files)
        out.push({ file: f.file, statements: content.statements.get(f.file) ?? [] });
    } else if (step.kind === 'drizzle') {
      const done = new Set(step.resumes);
      const statements = (content.statements.get(step.tag) ?? []).filter((s) =>
        s.transactional ? !done.has('transaction') : !done.has(`before:${s.index}`) && !done.has(`after:${s.index}`),
      );
      out.push({ file: `${step.tag}.sql`, statements });
    }
  }
  return out;
}

/**
 * Every problem the plan's pending statements would meet; [] when nothing stands in the way.
 * The checks only read: an error they meet (other than the connection, a timeout or a lock,
 * which keep their own messages) is a refusal that says nothing was changed, never a failure.
 */
export async function checkBeforeWrite(
  client: Pick<Client, 'query'>,
  plan: Pick<Plan, 'steps'>,
  content: Pick<Content, 'statements' | 'migrations' | 'drizzleDir'>,
): Promise<Problem[]> {
  const seen: { user?: string } = {};
  try {
    return await readChecks(client, plan, content, seen);
  } catch (err) {
    if (isUpkitError(err) || (isPgError(err) && /^(08|40|53|55|57|58)/.test(err.code!))) throw err;
    const what = isPgError(err) ? `ERROR ${err.code}: ${err.message}` : (err as Error).message;
    if (isPgError(err) && err.code === '42501') {
      // A table the checks must read (another team's, referenced by a new
      // foreign key) that this role may not: its GRANT, not a defect.
      const table = /permission denied for (?:table|relation) (.+)$/.exec(err.message)?.[1];
      throw new UpkitError({
        code: 'check.privilege',
        exit: 'refused',
        message:
          `upkit's checks before the first write may not read what ` +
          `a pending statement touches (${what}); nothing was changed`,
        hint:
          table && seen.user
            ? `run as an administrator: GRANT SELECT ON TABLE ${sqlIdent(table)} TO ${sqlIdent(seen.user)}` +
              `; (or connect as its owner), then run the upgrade again; nothing was changed`
            : 'grant the role upkit connects as SELECT on that table (or connect ' +
              'as its owner), then run the upgrade again; nothing was changed',
        cause: err,
      });
    }
    if (isPgError(err) && err.code === '42P01') {
      throw new UpkitError({
        code: 'check.changed',
        exit: 'refused',
        message: `a table went away while upkit's checks read it (${what}); nothing was changed`,
        hint: 'run the upgrade again (its dry run first: npx zx upgrade.ts --dry-run)',
        cause: err,
      });
    }
    throw new UpkitError({
      code: 'check.internal',
      exit: 'refused',
      message: `upkit's checks before the first write failed on their own query (${what}); nothing was changed`,
      hint:
        "nothing was changed: this is a defect in upkit's own checks; " +
        "keep the log file and report it to upkit's maintainers",
      cause: err,
    });
  }
}

async function readChecks(
  client: Pick<Client, 'query'>,
  plan: Pick<Plan, 'steps'>,
  content: Pick<Content, 'statements' | 'migrations' | 'drizzleDir'>,
  seen: { user?: string },
): Promise<Problem[]> {
  if (plan.steps.length === 0) return [];
  const facts = await readWriteFacts(client);
  seen.user = facts.user;
  const problems = writeProblems(facts);
  // A role that cannot create at all is refused by the privileges check, with its GRANT.
  if (problems.length || !facts.canCreate) return problems;
  const files = pendingFiles(plan, content);
  const intents = intentsOf(files);
  problems.push(
    ...(await extensionProblems(
      client,
      intents.flatMap((i) => (i.kind === 'extension' ? [i] : [])),
    )),
  );
  const live = await readRelations(
    client,
    intents.flatMap((i) => ('rel' in i ? [i.rel, ...(i.kind === 'foreign_key' ? [i.ref] : [])] : [])),
  );
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
export async function withChecks(
  client: Pick<Client, 'query'>,
  plan: Plan,
  content: Pick<Content, 'statements' | 'migrations' | 'drizzleDir'>,
): Promise<Plan> {
  const found = await checkBeforeWrite(client, plan, content);
  return found.length ? { ...plan, refusals: [...plan.refusals, ...found] } : plan;
}

/**
 * For each intent (by index), the live relation it acts on, or undefined when the run has dropped or not yet made it.
 */
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
