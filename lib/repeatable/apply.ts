// Applies one repeatable file: the whole file and its row in upkit.repeatable in one
// transaction, so that a run stopped at any point (kill -9 included) leaves either both or
// neither. A lock busy in the file is retried as the migrations' locks are.
import { UpkitError } from '../errors.ts';
import { isConnectionLoss } from '../db.ts';
import { formatPgError, isPgError } from '../pgError.ts';
import type { PlanStep } from '../plan.ts';
import { inTransaction, type ApplyContext } from '../apply/context.ts';
import { withLockRetry } from '../apply/session.ts';
import { repeatableKey } from './files.ts';

export type RepeatableStep = Extract<PlanStep, { kind: 'repeatable' }>;

export async function applyRepeatable(ctx: ApplyContext, step: RepeatableStep): Promise<void> {
  const file = (ctx.content.repeatable ?? []).find((f) => f.file === step.file);
  if (!file || file.checksum !== step.checksum) {
    throw new UpkitError({
      code: 'repeatable.changed',
      exit: ctx.stands.changed ? 'failed' : 'refused',
      message: `${repeatableKey(step.file)} changed between the plan and now`,
      hint: 'run the upgrade again',
    });
  }
  const relations = [
    ...new Set((ctx.content.statements.get(repeatableKey(file.file)) ?? []).flatMap((s) => s.relations)),
  ];
  const t0 = performance.now();
  try {
    await withLockRetry(
      ctx.client,
      repeatableKey(file.file),
      relations,
      ctx.settings,
      ctx.log,
      () =>
        inTransaction(ctx.client, async () => {
          await ctx.client.query(file.text);
          await ctx.client.query(
            `insert into upkit.repeatable (file, checksum, applied_at, ` +
              `duration_ms, run_id) values ($1, $2, now(), $3, $4)
           on conflict (file) do update set checksum = excluded.checksum, ` +
              `applied_at = excluded.applied_at, duration_ms = excluded.duration_ms, run_id = excluded.run_id`,
            [file.file, file.checksum, Math.round(performance.now() - t0), ctx.runId],
          );
        }),
      ctx.signal,
    );
  } catch (err) {
    if (ctx.signal?.aborted || err instanceof UpkitError || isConnectionLoss(err) || !isPgError(err)) throw err;
    const shown = repeatableKey(file.file);
    const { headline, details } = formatPgError(err, { file: shown, sql: file.text, fileText: file.text, offset: 0 });
    throw new UpkitError({
      code: 'repeatable.failed',
      exit: ctx.stands.changed ? 'failed' : 'refused',
      message:
        `${headline} (rolled back: nothing of ${shown} was kept` +
        `${ctx.stands.changed ? `; the database stands after ${ctx.stands.lastStep}` : '; nothing was changed'})`,
      details: details.filter((d) => !d.startsWith('HINT:')),
      hint: (err as { hint?: string }).hint ?? `fix ${shown}, then run the upgrade again`,
      cause: err,
    });
  }
  const ms = Math.round(performance.now() - t0);
  ctx.applied.push({ kind: 'repeatable', name: file.file, durationMs: ms });
  ctx.stands = { ...ctx.stands, lastStep: repeatableKey(file.file), changed: true };
}
