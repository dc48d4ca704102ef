import { COMMON_OPTIONS, type CommandSpec } from '../cli.ts';
import { EXIT } from '../errors.ts';
import { runPreflight } from '../preflight.ts';

export const preflightCommand: CommandSpec = {
  name: 'preflight',
  invocation: 'npx zx scripts/preflight.ts',
  summary: 'Read-only readiness checks: configuration, connection, server version, privileges, a usable pg_dump, disk room for a backup, compose when configured.',
  description: 'Changes nothing. Exit 0 when every check passes, 3 when one fails (each failure says what to do), 2 when the configuration is invalid.',
  options: {
    ...COMMON_OPTIONS,
    'backup-dir': { type: 'string', valueName: 'DIR', description: 'check room for backups in DIR instead of BACKUP_DIR' },
  },
  readOnly: true,
  overrides: (v) => ({ backupDir: v['backup-dir'] as string | undefined }),
  async run({ config, log, report }) {
    const result = await runPreflight(config, log, report);
    const failed = report.findings.filter((f) => f.severity === 'error').length;
    if (!result.ok) {
      log.error(`preflight refused: ${failed} check${failed === 1 ? '' : 's'} failed; nothing was changed`);
      return EXIT.refused;
    }
    log.info('preflight passed: ready for npx zx upgrade.ts');
    return EXIT.ok;
  },
};
