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


export const healthCommand = unavailable('health', 'npx zx scripts/health.ts', 'Poll HEALTHCHECK_URLS until the platform is started, healthy and migrated.', { ...COMMON_OPTIONS });

