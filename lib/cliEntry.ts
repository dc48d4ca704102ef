// What an entry file (`npx zx upgrade.ts`) runs: the usage text alone for `--help`, else the
// runner, lib/cli.ts, loaded only then (lib/cliSpec.ts says why).
import { argsAfter, helpOnly, type CommandSpec } from './cliSpec.ts';
import { writeOutput } from './output.ts';

export async function runEntry(spec: CommandSpec, entryUrl: string): Promise<number> {
  const args = argsAfter(entryUrl);
  const help = helpOnly(spec, args);
  if (help !== undefined) {
    writeOutput(process.stdout, `${help}\n`);
    return 0;
  }
  const { runCommand } = await import('./cli.ts');
  return runCommand(spec, entryUrl, args);
}
