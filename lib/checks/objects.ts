// Objects and rows a pending statement would be refused on: views, rules, policies, triggers
// and generated columns depending on a column it retypes or drops (or a table it drops), NULLs
// a NOT NULL rejects, and a table a CREATE TABLE IF NOT EXISTS leaves in another shape.
import type { Client } from 'pg';
import type { Problem } from '../plan.ts';
import { sqlIdent } from '../quote.ts';
import {
  columnOf,
  countNulls,
  hasRows,
  readDependents,
  typeOids,
  type Dependent,
  type LiveRelation,
} from './catalog.ts';
import type { Intent, Rel } from './intents.ts';
import { mentions } from './intents.ts';
import { AGAIN, listed, where } from './text.ts';
import { plural } from '../plural.ts';

export async function dependentProblems(
  client: Pick<Client, 'query'>,
  intents: readonly Intent[],
  current: ReadonlyArray<LiveRelation | undefined>,
): Promise<Problem[]> {
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
    // …and so do views a DO block or function body drops first, as far as its text tells.
    const bodies = intents
      .slice(0, ask.n)
      .flatMap((x) => (x.kind === 'opaque' && /\bdrop\s+(materialized\s+)?view\b/i.test(x.sql) ? [x.sql] : []));
    const earlier = intents.slice(0, ask.n);
    const same = (r: Rel, o: { schema: string; name: string }) =>
      r.name === o.name && (r.schema === null || r.schema === o.schema);
    // A foreign key, trigger or policy an earlier pending statement drops, or whose table it drops
    // (or a DO block names), no longer stands in the way either: the run removes it first.
    const ownerGone = (d: Dependent) =>
      d.owner !== null &&
      (earlier.some(
        (x) =>
          (x.kind === 'owns' && x.does === 'drops' && same(x.rel, d.owner!)) ||
          (x.kind === 'drop_object' && x.name === d.object && same(x.rel, d.owner!)),
      ) ||
        (d.object !== null && earlier.some((x) => x.kind === 'opaque' && mentions(x.sql, d.object!))));
    const isDropped = (d: Dependent) =>
      ownerGone(d) ||
      (d.name !== null &&
        (dropped.some((r: Rel) => r.name === d.name && (r.schema === null || r.schema === d.schema)) ||
          bodies.some((b) => mentions(b, d.name!))));
    // Dropping a column drops the generated columns computed from it; only a type change is refused.
    const found = dependents.filter(
      (d) =>
        d.on === `${ask.oid}:${ask.attnum}` && !isDropped(d) && !(d.kind === 'generated column' && i.kind !== 'retype'),
    );
    if (found.length === 0) continue;
    const rel = current[ask.n]!;
    const target =
      i.kind === 'drop_table'
        ? `drops table ${rel.shown}`
        : `${i.kind === 'retype' ? 'changes the type of' : 'drops column'}` +
          ` ${rel.shown}.${(i as { column: string }).column}`;
    const views = found.filter((d) => d.kind === 'view' || d.kind === 'materialized view');
    const others = found.filter((d) => !views.includes(d));
    const steps: string[] = [];
    if (views.length) {
      const keep = views
        .map((v) => `SELECT pg_get_viewdef(${`'${v.qualified.replace(/'/g, "''")}'`}::regclass, true);`)
        .join(' ');
      const drop = views
        .map((v) => `DROP ${v.kind === 'view' ? 'VIEW' : 'MATERIALIZED VIEW'} ${v.qualified};`)
        .join(' ');
      steps.push(
        `keep the definition of ${views.length === 1 ? 'the view' : 'the views'}` +
          ` (${keep}), drop ${views.length === 1 ? 'it' : 'them'} (${drop}), ` +
          `run the upgrade again, then create ${views.length === 1 ? 'it' : 'them'} anew`,
      );
    }
    if (others.length)
      steps.push(
        `drop ${listed(others.map((d) => d.shown))} for the upgrade and ` +
          `create ${others.length === 1 ? 'it' : 'them'} again afterwards`,
      );
    problems.push({
      code: 'check.dependent_objects',
      message:
        `${where(i.at)} ${target}, which ${listed(found.map((d) => d.shown))}` +
        ` ${found.length === 1 ? 'depends' : 'depend'} on: ` +
        `PostgreSQL refuses that while ${found.length === 1 ? 'it exists' : 'they exist'}`,
      hint: `${steps.join('; ')}; nothing was changed`,
    });
  }
  return problems;
}

export async function nullProblems(
  client: Pick<Client, 'query'>,
  intents: readonly Intent[],
  current: ReadonlyArray<LiveRelation | undefined>,
): Promise<Problem[]> {
  const nulls: Array<{ i: Extract<Intent, { kind: 'set_not_null' }>; rel: LiveRelation }> = [];
  const adds: Array<{ i: Extract<Intent, { kind: 'add_not_null' }>; rel: LiveRelation }> = [];
  intents.forEach((i, n) => {
    const rel = current[n];
    if (!rel) return;
    const col = 'column' in i ? columnOf(rel, i.column) : undefined;
    if (i.kind === 'set_not_null' && !i.filled && col && !col.notnull) nulls.push({ i, rel });
    if (i.kind === 'add_not_null' && !col) adds.push({ i, rel });
  });
  const counts = await countNulls(
    client,
    nulls.map((x) => ({ qualified: x.rel.qualified, column: x.i.column })),
  );
  const filled = await hasRows(
    client,
    adds.map((x) => x.rel.qualified),
  );
  const problems: Problem[] = [];
  nulls.forEach(({ i, rel }, k) => {
    const n = counts[k]!;
    if (n === 0) return;
    const c = sqlIdent(i.column);
    problems.push({
      code: 'check.nulls',
      message:
        `${where(i.at)} makes ${rel.shown}.${i.column} NOT NULL, ` +
        `but ${plural(n, 'row')} hold${n === 1 ? 's' : ''} NULL there`,
      hint:
        `give them a value (UPDATE ${rel.qualified} SET ${c} = ` +
        `<value> WHERE ${c} IS NULL;) or delete them, ${AGAIN}`,
    });
  });
  adds.forEach(({ i, rel }, k) => {
    if (!filled[k]) return;
    problems.push({
      code: 'check.nulls',
      message:
        `${where(i.at)} adds ${rel.shown}.${i.column} NOT NULL without a default, ` +
        `but ${rel.shown} has rows, which would hold NULL there: PostgreSQL refuses that`,
      hint:
        `the migration must give the column a default, or add it nullable, ` +
        `fill it and then set NOT NULL; ask its authors, ${AGAIN}`,
    });
  });
  return problems;
}

export async function shapeProblems(
  client: Pick<Client, 'query'>,
  intents: readonly Intent[],
  current: ReadonlyArray<LiveRelation | undefined>,
): Promise<Problem[]> {
  const creates = intents.flatMap((i, n) => (i.kind === 'create_table' && current[n] ? [{ i, rel: current[n]! }] : []));
  if (creates.length === 0) return [];
  const declared = creates.flatMap(({ i }) => i.columns.map((c) => ({ schema: c.typeSchema, name: c.type })));
  const oids = await typeOids(client, declared);
  const rows = await hasRows(
    client,
    creates.map((x) => x.rel.qualified),
  );
  let k = 0;
  const problems: Problem[] = [];
  for (const [n, { i, rel }] of creates.entries()) {
    const empty = !rows[n];
    const drop =
      `it holds no rows (an earlier run of other SQL that did not finish likely made it): ` +
      `drop it (DROP TABLE ${rel.qualified};) and the upgrade creates it whole, ${AGAIN}`;
    const typeOf = i.columns.map(() => oids[k++] ?? null);
    if (!i.ifNotExists) {
      problems.push({
        code: 'check.table_exists',
        message:
          `${where(i.at)} creates table ${rel.shown}, which already ` +
          `exists (made by hand, or by other SQL that did not finish)`,
        hint: empty
          ? drop
          : `move it out of the way (ALTER TABLE ${rel.qualified} RENAME TO ` +
            `${sqlIdent(`${rel.shown.split('.').pop()}_old`)};) and copy its rows back after the upgrade, ${AGAIN}`,
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
      if (!c.array && want !== null && want !== col.typid && !i.later.retyped.includes(c.name))
        retyped.push(`${c.name} is ${col.type}`);
    });
    if (missing.length + nullable.length + retyped.length === 0) continue;
    const counts = await countNulls(
      client,
      nullable.map((c) => ({ qualified: rel.qualified, column: c })),
    );
    const parts = [
      missing.length ? `no column ${listed(missing)}` : '',
      ...nullable.map(
        (c, j) => `${c} is nullable (${plural(counts[j]!, 'row')} hold${counts[j] === 1 ? 's' : ''} NULL)`,
      ),
      ...retyped,
    ].filter(Boolean);
    let hint: string;
    if (missing.length && empty) hint = drop;
    else if (missing.length || retyped.length)
      hint =
        `bring it to the shape ${where(i.at)} declares (ALTER TABLE ` +
        `${rel.qualified} ADD COLUMN … / ALTER COLUMN … TYPE …), ${AGAIN}`;
    else {
      const fill = nullable
        .filter((_, j) => counts[j]! > 0)
        .map((c) => `UPDATE ${rel.qualified} SET ${sqlIdent(c)} = <value> WHERE ${sqlIdent(c)} IS NULL;`);
      const set =
        `ALTER TABLE ${rel.qualified} ` +
        `${nullable.map((c) => `ALTER COLUMN ${sqlIdent(c)} SET NOT NULL`).join(', ')};`;
      hint =
        `${fill.length ? `give the NULLs a value (${fill.join(' ')}), then ` : ''}` +
        `restore the constraint: ${set} ${AGAIN}`;
    }
    problems.push({
      code: 'check.table_shape',
      message:
        `${rel.shown} differs from what ${where(i.at)} creates, ` +
        `and CREATE TABLE IF NOT EXISTS leaves it as it is: ${parts.join('; ')}`,
      hint,
    });
  }
  return problems;
}
