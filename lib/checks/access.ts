// Whether the role may do what pending statements do to existing relations: own what they
// alter, drop, index or put triggers and policies on (or act as a role that does), and hold
// the privilege on tables they write. Refused with the ALTER … OWNER TO and GRANT that fix it.
import type { Problem } from '../plan.ts';
import { sqlIdent } from '../quote.ts';
import type { LiveRelation } from './catalog.ts';
import type { At, Intent } from './intents.ts';
import { AGAIN, listed, where } from './text.ts';

const KIND_WORD: Record<string, string> = {
  r: 'table',
  p: 'table',
  v: 'view',
  m: 'materialized view',
  S: 'sequence',
  f: 'foreign table',
};

export function accessProblems(
  intents: readonly Intent[],
  current: ReadonlyArray<LiveRelation | undefined>,
  user: string,
): Problem[] {
  const role = sqlIdent(user);
  const problems: Problem[] = [];
  const notOwned = new Map<number, { rel: LiveRelation; at: At; does: string }>();
  const denied = new Map<string, { rel: LiveRelation; privilege: string; at: At }>();
  intents.forEach((i, n) => {
    const rel = current[n];
    if (!rel) return;
    if (i.kind === 'owns' && !rel.owns && !notOwned.has(rel.oid))
      notOwned.set(rel.oid, { rel, at: i.at, does: i.does });
    if (i.kind === 'writes' && !rel.privileges[i.privilege] && !denied.has(`${rel.oid}:${i.privilege}`))
      denied.set(`${rel.oid}:${i.privilege}`, { rel, privilege: i.privilege, at: i.at });
  });
  if (notOwned.size) {
    const items = [...notOwned.values()];
    const what = (x: (typeof items)[number]) =>
      `${KIND_WORD[x.rel.kind] ?? 'relation'} ${x.rel.shown} (owned ` +
      `by ${sqlIdent(x.rel.owner)}; ${where(x.at)} ${x.does} it)`;
    const alters = items.map(
      (x) => `ALTER ${(KIND_WORD[x.rel.kind] ?? 'table').toUpperCase()} ${x.rel.qualified} OWNER TO ${role};`,
    );
    const grants = [...new Set(items.map((x) => `GRANT ${sqlIdent(x.rel.owner)} TO ${role};`))];
    problems.push({
      code: 'check.owner',
      message:
        items.length === 1
          ? `role ${role} does not own ${what(items[0]!)}, and only its owner may do that`
          : `role ${role} does not own ${items.length} relations that pending statements alter, ` +
            `which only their owners may do: ${listed(items.map(what))}`,
      hint: `as an administrator: ${alters.join(' ')} (or let ${role} act as the owner: ${grants.join(' ')}), ${AGAIN}`,
    });
  }
  if (denied.size) {
    const items = [...denied.values()];
    problems.push({
      code: 'check.privilege',
      message: `role ${role} lacks ${listed(items.map((x) => `${x.privilege} on ${x.rel.shown} (${where(x.at)})`))}`,
      hint:
        `as an administrator: ` +
        `${items.map((x) => `GRANT ${x.privilege} ON ${x.rel.qualified} TO ${role};`).join(' ')} ${AGAIN}`,
    });
  }
  return problems;
}
