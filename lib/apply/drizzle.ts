// The drizzle phase, one migration at a time, written into drizzle-orm's own ledger exactly
// as its migrator would (sha256 of the file, created_at = the journal's `when`), so that
// the application's migrate() afterwards finds nothing to do. Unlike drizzle: each migration
// has its own transaction; statements PostgreSQL refuses in a transaction run outside it
// (new enum values before it, concurrent index builds after it); and progress through those
// parts is kept in upkit.migration_parts, so a run stopped half-way resumes where it was.
import type { DrizzleMigration } from '../drizzle/journal.ts';
import { isConnectionLoss } from '../db.ts';
import { UpkitError } from '../errors.ts';
import { formatPgError, isPgError } from '../pgError.ts';
import type { PlanStep } from '../plan.ts';
import { migrationParts, migrationSegments, type ParsedStatement } from '../sql/statements.ts';
import { inTransaction, type ApplyContext } from './context.ts';
import { withLockRetry } from './session.ts';

type DrizzleStep = Extract<PlanStep, { kind: 'drizzle' }>;

export const DRIZZLE_LEDGER_DDL = `create schema if not exists drizzle;
create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`;

export async function recordDrizzle(
  ctx: Pick<ApplyContext, 'client'>,
  m: { hash: string; when: number },
): Promise<void> {
  await ctx.client.query(DRIZZLE_LEDGER_DDL);
  await ctx.client.query('insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)', [
    m.hash,
    m.when,
  ]);
}

async function markPart(ctx: ApplyContext, m: DrizzleMigration, part: string): Promise<void> {
  await ctx.client.query(
    'insert into upkit.migration_parts (tag, hash, part, run_id) values ($1, $2, $3, $4) on conflict do nothing',
    [m.tag, m.hash, part, ctx.runId],
  );
}

function sqlFailure(
  ctx: ApplyContext,
  m: DrizzleMigration,
  s: ParsedStatement,
  err: unknown,
  where: string,
): UpkitError {
  const shown = `${ctx.content.drizzleDir.endsWith('drizzle') ? 'drizzle/' : ''}${m.tag}.sql`;
  const { headline, details } = isPgError(err)
    ? formatPgError(err, { file: shown, sql: s.sql, fileText: m.text, offset: s.offset })
    : { headline: `${shown}:${s.line}: ${(err as Error).message}`, details: [] as string[] };
  return new UpkitError({
    code: 'drizzle.failed',
    exit: ctx.stands.changed ? 'failed' : 'refused',
    message:
      `${headline} (${where}; ` +
      `${ctx.stands.changed ? `the database now stands after ${ctx.stands.lastStep}` : 'nothing was changed'})`,
    details,
    hint: (err as { hint?: string }).hint ?? `fix what the error names, then run the upgrade again`,
    cause: err,
  });
}

async function run(ctx: ApplyContext, m: DrizzleMigration, s: ParsedStatement, where: string): Promise<void> {
  try {
    await ctx.client.query(s.sql);
  } catch (err) {
    if (ctx.signal?.aborted || (err as { code?: string }).code === '55P03' || isConnectionLoss(err)) throw err;
    throw sqlFailure(ctx, m, s, err, where);
  }
}

async function enumHasValue(ctx: ApplyContext, v: NonNullable<ParsedStatement['addsEnumValue']>): Promise<boolean> {
  const { rows } = await ctx.client.query<{ ok: boolean }>(
    `select exists (select 1 from pg_enum e join pg_type t on t.oid = e.enumtypid
                     where t.typname = $1 and ($2::text is null or ` +
      `t.typnamespace = to_regnamespace($2)) and e.enumlabel = $3) as ok`,
    [v.type, v.schema, v.value],
  );
  return rows[0]!.ok;
}

/**
 * For a concurrent build: skip it when a valid index of that name exists; drop an INVALID one left by a failed build.
 */
async function prepareConcurrent(
  ctx: ApplyContext,
  ci: NonNullable<ParsedStatement['concurrentIndex']>,
): Promise<'build' | 'skip'> {
  if (ci.action !== 'create' || !ci.name) return 'build';
  const { rows } = await ctx.client.query<{ valid: boolean; qualified: string }>(
    `select i.indisvalid as valid, c.oid::regclass::text as ` +
      `qualified from pg_class c join pg_index i on i.indexrelid = c.oid
      where c.relname = $1 and ($2::text is null or c.relnamespace = to_regnamespace($2))`,
    [ci.name, ci.schema],
  );
  const existing = rows[0];
  if (!existing) return 'build';
  if (existing.valid) return 'skip';
  ctx.log.warn(
    `dropping INVALID index ${existing.qualified}, ` +
      `left by an earlier build that did not finish, before building it again`,
  );
  await ctx.client.query(`drop index concurrently if exists ${existing.qualified}`);
  return 'build';
}

export async function applyDrizzle(ctx: ApplyContext, step: DrizzleStep): Promise<void> {
  const m = ctx.content.migrations.find((x) => x.tag === step.tag && x.hash === step.hash);
  if (!m)
    throw new UpkitError({
      code: 'drizzle.changed',
      exit: 'refused',
      message: `${step.tag}.sql changed between the plan and now`,
      hint: 'run the upgrade again',
    });
  const statements = ctx.content.statements.get(m.tag) ?? [];
  const done = new Set(step.resumes);
  const t0 = performance.now();
  const own = migrationSegments(statements);
  if (own) {
    await applySegments(ctx, m, own, done);
    ctx.applied.push({ kind: 'drizzle', name: m.tag, durationMs: Math.round(performance.now() - t0) });
    ctx.stands = { release: releaseAfter(ctx, m), lastStep: m.tag, changed: true };
    return;
  }
  const { before, inside, after } = migrationParts(statements);
  const relations = [...new Set(inside.flatMap((s) => s.relations))];

  // New enum values must be committed before statements that use them can run.
  for (const s of before) {
    if (done.has(`before:${s.index}`)) continue;
    if (!(await enumHasValue(ctx, s.addsEnumValue!))) await run(ctx, m, s, 'outside a transaction');
    await markPart(ctx, m, `before:${s.index}`);
    ctx.stands = { ...ctx.stands, lastStep: `${m.tag} (enum value ${s.addsEnumValue!.value})`, changed: true };
  }

  if (!done.has('transaction') && inside.length) {
    await withLockRetry(
      ctx.client,
      m.tag,
      relations,
      ctx.settings,
      ctx.log,
      () =>
        inTransaction(ctx.client, async () => {
          for (const s of inside) await run(ctx, m, s, 'rolled back');
          // With nothing left to run outside, the migration is complete in this transaction.
          if (after.length === 0) await recordDrizzle(ctx, m);
          else await markPart(ctx, m, 'transaction');
        }),
      ctx.signal,
    );
    ctx.stands = { ...ctx.stands, lastStep: after.length ? `${m.tag} (its transaction)` : m.tag, changed: true };
  }

  if (after.length) {
    // A concurrent index build takes no lock that blocks the application, so it may wait
    // for old transactions as long as the statement timeout allows.
    await ctx.client.query(`select set_config('lock_timeout', '0', false)`);
    try {
      for (const s of after) {
        if (done.has(`after:${s.index}`)) continue;
        if (s.concurrentIndex && (await prepareConcurrent(ctx, s.concurrentIndex)) === 'skip') {
          ctx.log.info(`  ${s.concurrentIndex.name} already exists and is valid`);
        } else {
          await run(ctx, m, s, 'outside a transaction');
        }
        await markPart(ctx, m, `after:${s.index}`);
        ctx.stands = { ...ctx.stands, lastStep: `${m.tag} (statement at line ${s.line})`, changed: true };
      }
    } finally {
      // On a session that is gone this fails too; the error that ended the loop is the one to report.
      await ctx.client
        .query(`select set_config('lock_timeout', $1, false)`, [`${ctx.settings.lockTimeoutMs}ms`])
        .catch((err: unknown) => {
          if (!isConnectionLoss(err)) throw err;
        });
    }
    await inTransaction(ctx.client, async () => {
      await recordDrizzle(ctx, m);
      await ctx.client.query('delete from upkit.migration_parts where tag = $1 and hash = $2', [m.tag, m.hash]);
    });
  } else if (inside.length === 0) {
    await inTransaction(ctx.client, () => recordDrizzle(ctx, m));
  }
  ctx.applied.push({ kind: 'drizzle', name: m.tag, durationMs: Math.round(performance.now() - t0) });
  ctx.stands = { release: releaseAfter(ctx, m), lastStep: m.tag, changed: true };
}

/**
 * A migration that ends and opens its own transactions, run in file order as drizzle-orm's
 * migrator runs it: each transaction of the file as one transaction (with its resume marker),
 * each statement between a COMMIT and the next BEGIN on its own; then drizzle's ledger row.
 */
async function applySegments(
  ctx: ApplyContext,
  m: DrizzleMigration,
  own: NonNullable<ReturnType<typeof migrationSegments>>,
  done: ReadonlySet<string>,
): Promise<void> {
  if (own.unsupported) {
    throw new UpkitError({
      code: 'drizzle.transaction_control',
      exit: 'refused',
      message:
        `${m.tag}.sql:${own.unsupported.line}: ${statementLine(own.unsupported)} controls the transaction in a way ` +
        `upkit does not run (only BEGIN and COMMIT are followed, in file order); nothing of ${m.tag} was applied`,
      hint: `remove it from the migration, or apply ${m.tag} by hand and record it, then run the upgrade again`,
    });
  }
  for (const [n, seg] of own.segments.entries()) {
    const key = `segment:${n}`;
    if (done.has(key)) continue;
    if (seg.kind === 'transaction') {
      const relations = [...new Set(seg.statements.flatMap((s) => s.relations))];
      await withLockRetry(
        ctx.client,
        m.tag,
        relations,
        ctx.settings,
        ctx.log,
        () =>
          inTransaction(ctx.client, async () => {
            for (const s of seg.statements) await run(ctx, m, s, 'rolled back');
            await markPart(ctx, m, key);
          }),
        ctx.signal,
      );
      ctx.stands = {
        ...ctx.stands,
        lastStep: `${m.tag} (its transaction ending at line ${seg.statements.at(-1)!.line})`,
        changed: true,
      };
    } else if (seg.statement.transactional || seg.statement.addsEnumValue) {
      // A statement between the file's COMMIT and its next BEGIN that may run in a transaction
      // runs in one of its own, with its resume marker, under lock_timeout and its retries: a
      // stop after it never runs it twice, and its lock wait never queues the application.
      const s = seg.statement;
      await withLockRetry(
        ctx.client,
        m.tag,
        s.relations,
        ctx.settings,
        ctx.log,
        () =>
          inTransaction(ctx.client, async () => {
            await run(ctx, m, s, 'rolled back');
            await markPart(ctx, m, key);
          }),
        ctx.signal,
      );
      ctx.stands = { ...ctx.stands, lastStep: `${m.tag} (statement at line ${s.line})`, changed: true };
    } else {
      // What PostgreSQL runs only outside a transaction (a concurrent index build, VACUUM) takes
      // no lock that blocks the application: it may wait as long as the statement timeout allows.
      const s = seg.statement;
      await ctx.client.query(`select set_config('lock_timeout', '0', false)`);
      try {
        if (s.concurrentIndex && (await prepareConcurrent(ctx, s.concurrentIndex)) === 'skip')
          ctx.log.info(`  ${s.concurrentIndex.name} already exists and is valid`);
        else await run(ctx, m, s, 'outside a transaction');
      } finally {
        await ctx.client
          .query(`select set_config('lock_timeout', $1, false)`, [`${ctx.settings.lockTimeoutMs}ms`])
          .catch((err: unknown) => {
            if (!isConnectionLoss(err)) throw err;
          });
      }
      await markPart(ctx, m, key);
      ctx.stands = { ...ctx.stands, lastStep: `${m.tag} (statement at line ${s.line})`, changed: true };
    }
  }
  await inTransaction(ctx.client, async () => {
    await recordDrizzle(ctx, m);
    await ctx.client.query('delete from upkit.migration_parts where tag = $1 and hash = $2', [m.tag, m.hash]);
  });
}

const statementLine = (s: ParsedStatement) => s.sql.trim().split('\n')[0]!.slice(0, 80);

/**
 * The release a database is at once entry `m` is applied: the profile's release for that entry
 * (Pulse: drizzle's first entry is v2.0, each later one the next release); for an app, the tag.
 */
export function releaseAfter(
  ctx: Pick<ApplyContext, 'content' | 'stands'>,
  m: Pick<DrizzleMigration, 'idx' | 'tag'>,
): string | null {
  const releases = ctx.content.profile.drizzleReleases;
  if (!releases) return m.tag;
  return releases[m.idx] ?? ctx.stands.release;
}
