import { COMMON_OPTIONS, TARGET_OPTIONS, VERSION, type CommandSpec } from '../cliSpec.ts';
import { EXIT } from '../errors.ts';
import { shellQuote } from '../quote.ts';
import { plural } from '../plural.ts';

export const backupCommand: CommandSpec = {
  name: 'backup',
  invocation: 'npx zx scripts/backup.ts',
  summary:
    'Take a verified backup on its own: pg_dump (one custom-format file, ' +
    'or a directory-format folder written by parallel jobs when several tables are large), ' +
    'read back with pg_restore --list, with a manifest of row counts and sha256.',
  description:
    'Writes <db>-<release>-<UTC time>.dump (a file, or a folder of 0700 for the directory format) ' +
    'and its .dump.json manifest to BACKUP_DIR (created 0700 when missing; files 0600), ' +
    'then keeps the newest BACKUP_KEEP verified backups. Changes nothing in the database.',
  options: {
    ...COMMON_OPTIONS,
    ...TARGET_OPTIONS,
    'backup-dir': { type: 'string', valueName: 'DIR', description: 'write to DIR instead of BACKUP_DIR' },
  },
  overrides: (v) => ({ backupDir: v['backup-dir'] as string | undefined }),
  async run({ config, log, report, signal }) {
    const [{ takeBackup }, { formatBytes }, { profileFor }] = await Promise.all([
      import('../backup/run.ts'),
      import('../backup/space.ts'),
      import('../../profiles/index.ts'),
    ]);
    const result = await takeBackup(config, log, {
      profile: profileFor(config),
      backupDir: config.backupDir,
      keep: config.backupKeep,
      signal,
      upkitVersion: VERSION,
      report,
    });
    const m = result.manifest;
    report.backup = { path: result.path, bytes: m.bytes, sha256: m.sha256 };
    report.release = { from: m.release, to: m.release };
    log.info(
      `backup verified: ${result.path} (${formatBytes(m.bytes)}, ` +
        `${plural(Object.keys(m.tables).length, 'table')}, sha256 ${m.sha256})`,
    );
    log.info(`  restore with: npx zx scripts/restore.ts ${shellQuote(result.path)}`);
    return EXIT.ok;
  },
};
