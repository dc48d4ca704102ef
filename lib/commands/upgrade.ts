import { COMMON_OPTIONS, TARGET_OPTIONS, VERSION, type CommandSpec } from '../cliSpec.ts';
import { usageError } from '../errors.ts';
import { MAX_INT32, MAX_LOCK_WAIT_SECONDS } from '../cliLimits.ts';
import { canAsk, confirm } from '../prompt.ts';
import type { Plan } from '../plan.ts';
import { ALLOW_DESTRUCTIVE, allowDestructive } from './destructive.ts';

function milliseconds(values: Record<string, unknown>, flag: string): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw usageError(
      `--${flag} must be a whole number of milliseconds above 0, got "${String(raw)}"`,
      'run: npx zx upgrade.ts --help',
    );
  // PostgreSQL refuses a larger lock_timeout or statement_timeout, after the backup: refused here.
  if (n > MAX_INT32)
    throw usageError(
      `--${flag} must be a whole number of milliseconds from 1 to ${MAX_INT32}` +
        ` (PostgreSQL's largest ${flag.replace('-', '_')}), got "${String(raw)}"`,
      'run: npx zx upgrade.ts --help',
    );
  return n;
}

/** `--wait-for-lock SECONDS`: a whole number of seconds from 1 to MAX_LOCK_WAIT_SECONDS. */
export function waitForLockSeconds(values: Record<string, unknown>): number | undefined {
  const raw = values['wait-for-lock'];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(String(raw)) || n < 1 || n > MAX_LOCK_WAIT_SECONDS)
    throw usageError(
      `--wait-for-lock must be a whole number of seconds from 1 to ${MAX_LOCK_WAIT_SECONDS}, got "${String(raw)}"`,
      'run: npx zx upgrade.ts --help',
    );
  return n;
}

/** Flags that contradict each other: refused before the configuration is even read. */
function refuseConflicts(values: Record<string, unknown>): void {
  if (values['dry-run'] && values['wait-for-lock'] !== undefined)
    throw usageError(
      '--dry-run and --wait-for-lock do not go together: a dry run takes no lock, so there is nothing to wait for',
      'run: npx zx upgrade.ts --dry-run (or --wait-for-lock SECONDS alone)',
    );
  if (values['no-backup'] && values['backup-dir'] !== undefined)
    throw usageError(
      '--no-backup and --backup-dir do not go together: with --no-backup upkit writes no backup',
      'run: npx zx upgrade.ts --no-backup (or --backup-dir DIR alone)',
    );
  if (values['no-backup'] && values.rehearse)
    throw usageError(
      '--no-backup and --rehearse do not go together: a rehearsal runs ' +
        'on a copy restored from the backup --no-backup does not take',
      'run: npx zx upgrade.ts --rehearse (or --no-backup alone)',
    );
}

/** On a terminal, the operator types "yes"; without one there is nobody to ask. */
async function confirmOnTerminal(plan: Plan, signal?: AbortSignal): Promise<boolean> {
  if (!canAsk()) return true;
  const { confirmed } = await confirm(
    `Apply this plan to ${plan.database} (` +
      `${plan.backup === 'operator' ? 'no backup: --no-backup' : 'a backup is taken first'})? Type yes to go on: `,
    { signal },
  );
  return confirmed;
}

export const upgradeCommand: CommandSpec = {
  name: 'upgrade',
  invocation: 'npx zx upgrade.ts',
  summary:
    'Back up, then bring the database to the latest Pulse release, ' +
    'verify it, rebuild the containers and wait for health.',
  description: [
    'Reads the database and the files, prints the plan, then (unless --dry-run) takes the run lock, a verified backup,',
    'applies the legacy files, drizzle migrations and seed data, and verifies the result. On a terminal it asks before',
    'changing anything unless --yes. Any stop after changes began names the backup and the command that restores it.',
    'With --no-backup upkit takes no backup (your own snapshot, of a managed database say, replaces it), and the plan,',
    'the report and upkit.runs say so.',
  ].join('\n'),
  options: {
    ...COMMON_OPTIONS,
    ...TARGET_OPTIONS,
    'dry-run': { type: 'boolean', description: 'print the plan and change nothing (no lock, no backup)' },
    yes: { type: 'boolean', description: 'do not ask for confirmation' },
    'backup-dir': { type: 'string', valueName: 'DIR', description: 'write the backup to DIR instead of BACKUP_DIR' },
    'allow-destructive': ALLOW_DESTRUCTIVE,
    'no-containers': { type: 'boolean', description: 'do not rebuild containers or wait for health' },
    'lock-timeout': {
      type: 'string',
      valueName: 'MS',
      description: 'lock_timeout of migration sessions (LOCK_TIMEOUT)',
    },
    'statement-timeout': {
      type: 'string',
      valueName: 'MS',
      description: 'statement_timeout of migration sessions (MIGRATION_TIMEOUT)',
    },
    'drizzle-dir': {
      type: 'string',
      valueName: 'PATH',
      description:
        "use another app's drizzle folder (UPKIT_DRIZZLE_DIR): no Pulse legacy files, seed data or flag checks",
    },
    'legacy-dir': {
      type: 'string',
      valueName: 'PATH',
      description: 'use another legacy SQL folder (UPKIT_LEGACY_DIR)',
    },
    rehearse: {
      type: 'boolean',
      description: 'first run the whole plan, and verification, on a copy restored from the backup',
    },
    'no-backup': {
      type: 'boolean',
      description:
        "take no backup: your own snapshot (of a managed database, say) replaces upkit's; a failure then points to it",
    },
    'wait-for-lock': {
      type: 'string',
      valueName: 'SECONDS',
      description:
        `when another run holds the run lock, wait for it up to SECONDS (1 ` +
        `to ${MAX_LOCK_WAIT_SECONDS}) and plan again, instead of exiting 5`,
    },
  },
  overrides: (v) => {
    refuseConflicts(v);
    waitForLockSeconds(v);
    return {
      backupDir: v['backup-dir'] as string | undefined,
      lockTimeoutMs: milliseconds(v, 'lock-timeout'),
      migrationTimeoutMs: milliseconds(v, 'statement-timeout'),
      drizzleDir: v['drizzle-dir'] as string | undefined,
      legacyDir: v['legacy-dir'] as string | undefined,
    };
  },
  async run({ config, values, log, report, signal }) {
    if (values['dry-run'] && values.rehearse)
      throw usageError(
        '--dry-run and --rehearse do not go together: a rehearsal needs the backup a dry run does not take',
        'run: npx zx upgrade.ts --rehearse (or --dry-run alone)',
      );
    const [{ runUpgrade }, { profileFor }] = await Promise.all([
      import('../upgrade.ts'),
      import('../../profiles/index.ts'),
    ]);
    return runUpgrade(config, log, report, {
      profile: profileFor(config),
      dryRun: values['dry-run'] === true,
      allowDestructive: allowDestructive(values, 'npx zx upgrade.ts'),
      upkitVersion: VERSION,
      command: 'upgrade',
      signal,
      confirm: values.yes ? undefined : (plan: Plan) => confirmOnTerminal(plan, signal),
      rehearse: values.rehearse === true,
      noBackup: values['no-backup'] === true,
      containers: values['no-containers'] !== true,
      waitForLockSeconds: waitForLockSeconds(values),
    });
  },
};
