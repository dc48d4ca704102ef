// Going back after an upgrade: by default, restore the backup the last run took (in place,
// through restore, so the database as it is now is kept beside it); with --down, run the
// down migration of the newest applied drizzle entry when one exists (drizzle/down/<tag>.sql)
// and remove that entry from drizzle's ledger, in one transaction.
import { COMMON_OPTIONS, type CommandSpec } from '../cliSpec.ts';

export const rollbackCommand: CommandSpec = {
  name: 'rollback',
  invocation: 'npx zx scripts/rollback.ts',
  summary:
    'Restore the backup the last run took (in place; the current database is ' +
    'kept beside it), or with --down run the down migration of the newest entry.',
  description:
    'The backup path comes from upkit.runs. Asks for confirmation ' +
    'unless --yes (and refuses without a terminal and without --yes).',
  options: {
    ...COMMON_OPTIONS,
    yes: { type: 'boolean', description: 'do not ask for confirmation' },
    'discard-writes': {
      type: 'boolean',
      description:
        'with --yes: go back even though rows changed since the backup (they stay only in the database set aside)',
    },
    down: {
      type: 'boolean',
      description: 'run drizzle/down/<tag>.sql of the newest applied entry instead of restoring a backup',
    },
    'allow-destructive': { type: 'boolean', description: 'with --down: run statements the lint marks destructive' },
    'drizzle-dir': {
      type: 'string',
      valueName: 'PATH',
      description: "another app's drizzle folder (UPKIT_DRIZZLE_DIR)",
    },
  },
  overrides: (v) => ({ drizzleDir: v['drizzle-dir'] as string | undefined }),
  run: async (ctx) => (await import('./rollbackRun.ts')).runRollback(ctx),
};
