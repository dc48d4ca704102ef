import { COMMON_OPTIONS, TARGET_OPTIONS, type CommandSpec } from '../cliSpec.ts';
import { EXIT, usageError } from '../errors.ts';

export const preflightCommand: CommandSpec = {
  name: 'preflight',
  invocation: 'npx zx scripts/preflight.ts',
  summary:
    'Read-only readiness checks: configuration, connection, server version, privileges, what the next upgrade ' +
    'would meet before its first write, a usable pg_dump, disk room for a backup, compose when configured.',
  description:
    'Changes nothing. Exit 0 when every check passes, 3 when one fails ' +
    '(each failure says what to do), 2 when the configuration is invalid.',
  options: {
    ...COMMON_OPTIONS,
    ...TARGET_OPTIONS,
    'backup-dir': {
      type: 'string',
      valueName: 'DIR',
      description: 'check room for backups in DIR instead of BACKUP_DIR',
    },
    'no-backup': {
      type: 'boolean',
      description: 'for upgrades run with --no-backup: pg_dump and backup room are not checked',
    },
    'drizzle-dir': {
      type: 'string',
      valueName: 'PATH',
      description: "another app's drizzle folder (UPKIT_DRIZZLE_DIR), whose pending migrations are checked",
    },
  },
  readOnly: true,
  overrides: (v) => {
    if (v['no-backup'] && v['backup-dir'] !== undefined)
      throw usageError(
        '--no-backup and --backup-dir do not go together: with --no-backup there is no backup to make room for',
        'run: npx zx scripts/preflight.ts --no-backup (or --backup-dir DIR alone)',
      );
    return { backupDir: v['backup-dir'] as string | undefined, drizzleDir: v['drizzle-dir'] as string | undefined };
  },
  async run({ config, log, report, values }) {
    const [{ runPreflight }, { profileFor }] = await Promise.all([
      import('../preflight.ts'),
      import('../../profiles/index.ts'),
    ]);
    const result = await runPreflight(config, log, report, {
      profile: profileFor(config),
      backup: values['no-backup'] !== true,
    });
    const failed = report.findings.filter((f) => f.severity === 'error').length;
    if (!result.ok) {
      log.error(`preflight refused: ${failed} check${failed === 1 ? '' : 's'} failed; nothing was changed`);
      return EXIT.refused;
    }
    log.info(`preflight passed: ready for npx zx upgrade.ts${values['no-backup'] ? ' --no-backup' : ''}`);
    return EXIT.ok;
  },
};
