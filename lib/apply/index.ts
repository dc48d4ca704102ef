// apply(plan): the only writer. Runs the plan's steps in order on the migration session,
// each in its own transaction (or parts, see drizzle.ts), and keeps `ctx.stands` current
// so that a stop at any point can say where the database is.
import { isConnectionLoss } from '../db.ts';
import { UpkitError } from '../errors.ts';
import { snapshotDifferences } from '../inspect.ts';
import type { Plan, PlanStep } from '../plan.ts';
import { inTransaction, type ApplyContext } from './context.ts';
import { applyDrizzle, recordDrizzle, releaseAfter } from './drizzle.ts';
import { applyLegacy } from './legacy.ts';
import { applyRepeatable } from '../repeatable/apply.ts';
import { withLockRetry } from './session.ts';
import { plural } from '../plural.ts';

type BaselineStep = Extract<PlanStep, { kind: 'baseline' }>;

async function applyBaseline(ctx: ApplyContext, step: BaselineStep): Promise<void> {
  const t0 = performance.now();
  await inTransaction(ctx.client, async () => {
    const differences = await snapshotDifferences(ctx.client, ctx.content.drizzleDir, 0);
    if (differences.length) {
      throw new UpkitError({
        code: 'baseline.mismatch',
        exit: ctx.stands.changed ? 'failed' : 'refused',
        message:
          `the database does not match ${step.tag}'s snapshot, so ${step.tag} ` +
          `cannot be recorded as applied: ${plural(differences.length, 'difference')}`,
        details: differences.slice(0, 20),
        hint:
          'these were changed by hand; put them back as the snapshot has them ' +
          '(npx zx verify/index.ts lists them), then run the upgrade again',
      });
    }
    await recordDrizzle(ctx, step);
    await ctx.client.query(
      `insert into upkit.legacy_migrations (file, checksum, duration_ms, method, run_id) ` +
        `values ($1, $2, $3, 'baseline', $4) on conflict (file, checksum) do nothing`,
      [step.tag, step.hash, Math.round(performance.now() - t0), ctx.runId],
    );
  });
  ctx.applied.push({ kind: 'baseline', name: step.tag, durationMs: Math.round(performance.now() - t0) });
  ctx.stands = {
    release: releaseAfter(ctx, { idx: 0, tag: step.tag }),
    lastStep: `${step.tag} (baseline)`,
    changed: true,
  };
}

async function applySeedStep(ctx: ApplyContext, release: string): Promise<void> {
  const seed = ctx.content.profile.seed;
  // plan() makes a seed step only for a profile with seed data.
  if (!seed) throw new Error(`a seed step for profile ${ctx.content.profile.name}, which has no seed data`);
  const t0 = performance.now();
  await withLockRetry(
    ctx.client,
    'seed data',
    [...seed.tables],
    ctx.settings,
    ctx.log,
    () => inTransaction(ctx.client, () => seed.apply(ctx.client, release)),
    ctx.signal,
  );
  ctx.applied.push({ kind: 'seed', name: `seed ${release}`, durationMs: Math.round(performance.now() - t0) });
  ctx.stands = { ...ctx.stands, lastStep: 'seed data', changed: true };
}

export function describeStep(step: PlanStep): string {
  switch (step.kind) {
    case 'legacy':
      return step.comprehensive
        ? `legacy: ${step.comprehensive.file} (fallback: ${step.files.map((f) => f.file).join(', ') || 'none'})`
        : `legacy: ${step.files.map((f) => f.file).join(', ')}`;
    case 'baseline':
      return `baseline: record ${step.tag} as applied`;
    case 'drizzle':
      return (
        `drizzle: ${step.tag} (${plural(step.statements, 'statement')}` +
        `${step.outsideTransaction ? `, ${step.outsideTransaction} outside the transaction` : ''}` +
        `${step.resumes.length ? `, resuming after ${step.resumes.join(', ')}` : ''}` +
        `${step.outOfOrder ? ', out of order' : ''})`
      );
    case 'seed':
      return `seed data for ${step.release}`;
    case 'repeatable':
      return `repeatable: ${step.file} (${step.detail})`;
  }
}

export async function apply(plan: Plan, ctx: ApplyContext): Promise<void> {
  for (const step of plan.steps) {
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    ctx.current = describeStep(step);
    await ctx.log
      .step(`${ctx.label ?? ''}${describeStep(step)}`, async (s) => {
        switch (step.kind) {
          case 'legacy':
            await applyLegacy(ctx, step);
            s.detail(`now at ${ctx.stands.release}`);
            return;
          case 'baseline':
            await applyBaseline(ctx, step);
            s.detail(step.reason);
            return;
          case 'drizzle':
            await applyDrizzle(ctx, step);
            return;
          case 'seed':
            await applySeedStep(ctx, step.release);
            return;
          case 'repeatable':
            await applyRepeatable(ctx, step);
            return;
        }
      })
      .catch((err: unknown) => {
        throw lostConnection(ctx, step, err);
      });
  }
}

/**
 * A session that went away mid-step (server restart, crash, network) is said as such, never as an error of the SQL
 * file.
 */
function lostConnection(ctx: ApplyContext, step: PlanStep, err: unknown): unknown {
  if (!isConnectionLoss(err) || ctx.signal?.aborted) return err;
  const { host, port } = ctx.config.migrationDb;
  const during =
    step.kind === 'drizzle'
      ? step.tag
      : step.kind === 'baseline'
        ? `the baseline of ${step.tag}`
        : step.kind === 'legacy'
          ? 'the legacy files'
          : step.kind === 'repeatable'
            ? `repeatable/${step.file}`
            : 'the seed data';
  return new UpkitError({
    code: 'db.connection_lost',
    exit: ctx.stands.changed ? 'failed' : 'refused',
    message:
      `lost the connection to PostgreSQL at ${host}:${port} during ${during} (${(err as Error).message}): ` +
      `the server restarted or stopped, or the network failed; what was not committed is rolled back and ` +
      `${ctx.stands.changed ? `the database now stands after ${ctx.stands.lastStep}` : 'nothing was changed'}`,
    hint: 'when PostgreSQL answers again, run the upgrade again: it picks up where it stopped',
    cause: err,
  });
}
