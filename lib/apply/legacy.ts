// The legacy phase: comprehensive-upgrade.sql in one transaction; if it fails, say why and
// apply the ordered files one by one, each in its own transaction, skipping those already
// recorded with the same checksum. Every file is recorded in upkit.legacy_migrations in the
// same transaction that applied it.
import { isConnectionLoss } from '../db.ts';
import { UpkitError } from '../errors.ts';
import type { LegacyFile } from '../legacy/manifest.ts';
import { formatPgError, isPgError } from '../pgError.ts';
import type { LegacyRef, PlanStep } from '../plan.ts';
import { inTransaction, type ApplyContext } from './context.ts';
import { transientReason, withLockRetry } from './session.ts';

type LegacyStep = Extract<PlanStep, { kind: 'legacy' }>;

function fileOf(ctx: ApplyContext, ref: LegacyRef): LegacyFile {
  const legacy = ctx.content.legacy!;
  const f = [...legacy.files, ...(legacy.comprehensive ? [legacy.comprehensive] : [])].find((x) => x.file === ref.file);
  if (!f || f.checksum !== ref.checksum)
    throw new UpkitError({
      code: 'legacy.changed',
      exit: 'refused',
      message: `${ref.file} changed between the plan and now`,
      hint: 'run the upgrade again',
    });
  return f;
}

function relationsOf(ctx: ApplyContext, file: string): string[] {
  return [...new Set((ctx.content.statements.get(file) ?? []).flatMap((s) => s.relations))];
}

async function record(
  ctx: ApplyContext,
  files: readonly LegacyRef[],
  method: 'comprehensive' | 'file',
  durationMs: number,
): Promise<void> {
  for (const f of files) {
    await ctx.client.query(
      `insert into upkit.legacy_migrations (file, checksum, duration_ms, method, run_id) values ($1, $2, $3, $4, $5)
       on conflict (file, checksum) do update set applied_at = now(), ` +
        `duration_ms = excluded.duration_ms, method = excluded.method, run_id = excluded.run_id`,
      [f.file, f.checksum, durationMs, method, ctx.runId],
    );
  }
}

async function applyFile(
  ctx: ApplyContext,
  file: LegacyFile,
  recordAs: readonly LegacyRef[],
  method: 'comprehensive' | 'file',
): Promise<number> {
  const t0 = performance.now();
  await withLockRetry(
    ctx.client,
    file.file,
    relationsOf(ctx, file.file),
    ctx.settings,
    ctx.log,
    () =>
      inTransaction(ctx.client, async () => {
        await ctx.client.query(file.text);
        await record(ctx, recordAs, method, Math.round(performance.now() - t0));
      }),
    ctx.signal,
  );
  return Math.round(performance.now() - t0);
}

/** One line plus details for a file's SQL error, with file:line:col and a caret. */
export function describeSqlError(
  err: unknown,
  file: LegacyFile,
  shown: string,
): { headline: string; details: string[] } {
  if (!isPgError(err)) return { headline: `${shown}: ${(err as Error).message}`, details: [] };
  return formatPgError(err, { file: shown, sql: file.text, fileText: file.text, offset: 0 });
}

export async function applyLegacy(ctx: ApplyContext, step: LegacyStep): Promise<void> {
  const pending = step.files;
  if (step.comprehensive) {
    const comprehensive = fileOf(ctx, step.comprehensive);
    try {
      const ms = await applyFile(ctx, comprehensive, pending, 'comprehensive');
      ctx.applied.push({ kind: 'legacy', name: comprehensive.file, durationMs: ms });
      ctx.stands = {
        release: pending.at(-1)?.release ?? ctx.stands.release,
        lastStep: comprehensive.file,
        changed: true,
      };
      return;
    } catch (err) {
      // Falling back to the files one by one is for SQL that failed, never for a busy lock, a
      // timeout, a session that is gone or a server out of room: the files would meet the
      // same, after some of them had been applied.
      if (ctx.signal?.aborted || isConnectionLoss(err) || err instanceof UpkitError) throw err;
      const { headline, details } = describeSqlError(err, comprehensive, `legacy-sql/${comprehensive.file}`);
      const reason = transientReason(err);
      if (reason) {
        throw new UpkitError({
          code: 'legacy.stopped',
          exit: ctx.stands.changed ? 'failed' : 'refused',
          message:
            `${headline} (rolled back; ` +
            `${
              ctx.stands.changed
                ? `the database now stands at ${ctx.stands.release} after ${ctx.stands.lastStep}`
                : 'nothing was changed'
            }; ` +
            `${reason}, which the files one by one would meet too, so they were not tried)`,
          details: details.filter((d) => !d.startsWith('HINT:')),
          hint:
            'run the upgrade again once that has passed; raise MIGRATION_TIMEOUT ' +
            '(or --statement-timeout) only for a statement that needs longer',
          cause: err,
        });
      }
      ctx.log.warn(`${comprehensive.file} was rolled back, nothing of it was kept: ${headline}`);
      for (const d of details) ctx.log.info(`    ${d}`);
      ctx.log.info('  → applying the legacy files one by one instead');
    }
  }
  for (const ref of pending) {
    const file = fileOf(ctx, ref);
    try {
      const ms = await applyFile(ctx, file, [ref], 'file');
      ctx.applied.push({ kind: 'legacy', name: file.file, durationMs: ms });
      ctx.stands = { release: ref.release, lastStep: file.file, changed: true };
      ctx.log.info(`  ✔ ${file.file} (${ref.release}) ${ms} ms`);
    } catch (err) {
      if (ctx.signal?.aborted || (err instanceof UpkitError && err.code === 'lock.timeout') || isConnectionLoss(err))
        throw err;
      const { headline, details } = describeSqlError(err, file, `legacy-sql/${file.file}`);
      const hint = (err as { hint?: string }).hint;
      throw new UpkitError({
        code: 'legacy.failed',
        exit: ctx.stands.changed ? 'failed' : 'refused',
        message:
          `${headline} (rolled back; ` +
          `${
            ctx.stands.changed
              ? `the database now stands at ${ctx.stands.release} after ${ctx.stands.lastStep}`
              : 'nothing was changed'
          })`,
        details: details.filter((d) => !d.startsWith('HINT:')),
        hint: hint ?? `fix what the error names, then run the upgrade again`,
        cause: err,
      });
    }
  }
}
