// Commands whose engine later versions of upkit bring. They already parse their documented
// flags (so scripts written against them fail loudly, not oddly) and say plainly that they
// cannot run yet, with exit 2 and nothing changed.
import { COMMON_OPTIONS, type CommandSpec, type OptionSpec } from '../cli.ts';
import { notAvailable } from '../errors.ts';

function unavailable(name: string, invocation: string, summary: string, options: Record<string, OptionSpec>, positionals?: CommandSpec['positionals']): CommandSpec {
  return {
    name,
    invocation,
    summary,
    options,
    positionals,
    config: false,
    readOnly: true,
    async run() {
      throw notAvailable(invocation);
    },
  };
}

const yes: OptionSpec = { type: 'boolean', description: 'do not ask for confirmation' };
const backupDir: OptionSpec = { type: 'string', valueName: 'DIR', description: 'write backups to DIR instead of BACKUP_DIR' };
const drizzleDir: OptionSpec = { type: 'string', valueName: 'PATH', description: "use another app's drizzle folder (UPKIT_DRIZZLE_DIR)" };
const legacyDir: OptionSpec = { type: 'string', valueName: 'PATH', description: 'use another legacy SQL folder (UPKIT_LEGACY_DIR)' };
const noContainers: OptionSpec = { type: 'boolean', description: 'do not rebuild containers or wait for health' };

export const healthCommand = unavailable('health', 'npx zx scripts/health.ts', 'Poll HEALTHCHECK_URLS until the platform is started, healthy and migrated.', { ...COMMON_OPTIONS });

export const rollbackCommand = unavailable('rollback', 'npx zx scripts/rollback.ts', 'Restore the backup the last run took, or run the down migration of the last entry.', { ...COMMON_OPTIONS, yes });

