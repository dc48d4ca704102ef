// Read-only: where an install stands. The detected release, drizzle's entries (applied,
// pending, edited), the legacy ledger, and the last runs.
import { COMMON_OPTIONS, TARGET_OPTIONS, type CommandSpec } from '../cliSpec.ts';
import type { RepeatableState } from '../repeatable/state.ts';
import { EXIT } from '../errors.ts';
import { plural } from '../plural.ts';

export const statusCommand: CommandSpec = {
  name: 'status',
  invocation: 'npx zx scripts/status.ts',
  summary: 'Release detected, applied and pending entries of both ledgers, last runs. Changes nothing.',
  options: {
    ...COMMON_OPTIONS,
    ...TARGET_OPTIONS,
    'exit-code': { type: 'boolean', description: 'exit 1 when something is pending' },
    'drizzle-dir': {
      type: 'string',
      valueName: 'PATH',
      description: "another app's drizzle folder (UPKIT_DRIZZLE_DIR)",
    },
  },
  readOnly: true,
  directUrlUnreachable: 'warn',
  overrides: (v) => ({ drizzleDir: v['drizzle-dir'] as string | undefined }),
  async run({ config, values, log, report, out }) {
    const { displayPath, loadContent } = await import('../content.ts');
    const { withClient, withTransaction } = await import('../db.ts');
    const { checkInterruptedRestore } = await import('../backup/leftovers.ts');
    const { leftoverRehearsals } = await import('../rehearse.ts');
    const { inspect } = await import('../inspect.ts');
    const { compareLedger, plan: makePlan } = await import('../plan.ts');
    const { profileFor } = await import('../../profiles/index.ts');
    const content = loadContent(profileFor(config));
    await checkInterruptedRestore(config, log, report);
    // Named with the command that drops them; the next upgrade drops the ones proven upkit's.
    await leftoverRehearsals(config, log, report, false);
    const state = await withClient(
      config.migrationDb,
      config,
      (c) =>
        withTransaction(c, async () => {
          const inspection = await inspect(c, config, content);
          return {
            inspection,
            plan: makePlan(inspection, content, {
              allowDestructive: true,
              latestRelease: content.profile.latestRelease,
              now: Date.now(),
            }),
          };
        }),
      { applicationName: 'upkit status' },
    );
    const { inspection, plan } = state;
    const ledger = compareLedger(content.migrations, inspection.drizzleLedger ?? []);
    report.release = { from: plan.from, to: plan.to };
    report.plan = plan;
    out(
      `${inspection.database}: ` +
        `${plan.from ?? `empty (no ${content.profile.label ? `${content.profile.label} ` : ''}release)`}` +
        `${plan.steps.length ? `, ${plural(plan.steps.length, 'step')} pending to reach ${plan.to}` : ', up to date'}` +
        ` (PostgreSQL ${inspection.server.version})`,
    );
    for (const e of plan.detection.evidence) log.debug(`detected ${e}`);
    out(
      `drizzle ledger: ${inspection.drizzleLedger === null ? 'absent' : `${ledger.applied.length} applied`}` +
        `${ledger.pending.length ? `, pending: ${ledger.pending.map((m) => m.tag).join(', ')}` : ''}` +
        `${ledger.edited.length ? `, EDITED after applying: ${ledger.edited.map((m) => m.tag).join(', ')}` : ''}` +
        `${ledger.unknown.length ? `, ${ledger.unknown.length} unknown to these files` : ''}` +
        `${ledger.shared.length ? `, ${ledger.shared.length} of another application (or a removed file)` : ''}`,
    );
    for (const m of content.migrations)
      out(`  ${ledger.applied.includes(m) ? '✔' : ledger.edited.includes(m) ? '✖' : '·'} ${m.tag}`);
    if (content.legacy) {
      const rows = inspection.legacyLedger;
      out(`legacy ledger: ${rows === null ? 'absent (upkit has not run here)' : plural(rows.length, 'row')}`);
      for (const r of rows ?? []) out(`  ✔ ${r.file} (${r.method}, ${r.appliedAt.toISOString()})`);
    }
    if (inspection.repeatable?.length) {
      out(
        `repeatable: ${plural(inspection.repeatable.length, 'file')} in ${displayPath(content.profile.repeatableDir!)}`,
      );
      for (const r of inspection.repeatable) out(`  ${REPEATABLE_MARK[r.status]} ${r.file}: ${repeatableLine(r)}`);
    }
    out(`runs: ${inspection.runs === null ? 'none recorded' : ''}`);
    for (const r of inspection.runs ?? []) {
      out(
        `  ${r.startedAt.toISOString()} ${r.command} ${r.status}` +
          `${r.releaseFrom || r.releaseTo ? ` ${r.releaseFrom ?? 'empty'} → ${r.releaseTo ?? '?'}` : ''}` +
          `${r.backupPath ? ` backup ${r.backupPath}` : r.backupSkipped ? ' no backup (--no-backup)' : ''}` +
          ` (${r.host}, pid ${r.pid})`,
      );
    }
    for (const p of plan.refusals) report.finding('error', p.code, p.message, p.hint);
    for (const p of plan.warnings) report.finding('warning', p.code, p.message, p.hint);
    for (const s of plan.steps)
      report.finding(
        'info',
        `pending.${s.kind}`,
        s.kind === 'drizzle' || s.kind === 'baseline'
          ? s.tag
          : s.kind === 'repeatable'
            ? `repeatable/${s.file}: ${s.detail}`
            : s.kind,
        'run: npx zx upgrade.ts --dry-run',
      );
    if (plan.refusals.length) for (const p of plan.refusals) log.error(`${p.message}\n  → ${p.hint}`);
    return values['exit-code'] && plan.steps.length ? EXIT.failed : EXIT.ok;
  },
};

const REPEATABLE_MARK: Record<RepeatableState['status'], string> = {
  applied: '✔',
  new: '·',
  changed: '✖',
  missing: '✖',
  waiting: '…',
};

/** One repeatable file's state: applied at, changed, never applied, missing an object, waiting for a role. */
function repeatableLine(r: RepeatableState): string {
  const at = r.last ? r.last.appliedAt.toISOString() : null;
  switch (r.status) {
    case 'applied':
      return `applied ${at}`;
    case 'new':
      return 'never applied';
    case 'changed':
      return `changed since it was applied ${at}`;
    case 'missing':
      return `applied ${at}, but the database lacks ${r.missing.join(', ')}`;
    case 'waiting':
      return `waiting for role ${r.waitingFor.join(', ')} (not created)${at ? `; last applied ${at}` : ''}`;
  }
}
