// `upkit <command> [options]`: what the launcher (bin/upkit, then bin/upkit.js) runs. Each
// command is the same spec and the same runner as its entry file (`npx zx upgrade.ts` is
// `upkit upgrade`), loaded only when it is the one asked for. `--version`, `--help` and a
// command's `--help` load only the specs; the runner (lib/cli.ts: configuration, logger,
// report) only when a command runs, and the command its engine only in run().
import { helpOnly, VERSION, type CommandSpec } from '../cliSpec.ts';
import { visible } from '../escape.ts';
import { LAUNCHER_COMMANDS, useLauncher, type LauncherCommand } from '../invocation.ts';
import { writeOutput } from '../output.ts';
import { shellQuote } from '../quote.ts';
import { registerPublic } from '../redact.ts';

const LOAD: Record<LauncherCommand, () => Promise<CommandSpec>> = {
  upgrade: async () => (await import('./upgrade.ts')).upgradeCommand,
  install: async () => (await import('./install.ts')).installCommand,
  verify: async () => (await import('./verify.ts')).verifyCommand,
  preflight: async () => (await import('./preflight.ts')).preflightCommand,
  status: async () => (await import('./status.ts')).statusCommand,
  backup: async () => (await import('./backup.ts')).backupCommand,
  restore: async () => (await import('./restore.ts')).restoreCommand,
  rollback: async () => (await import('./rollback.ts')).rollbackCommand,
  mark: async () => (await import('./mark.ts')).markCommand,
  health: async () => (await import('./health.ts')).healthCommand,
};

const NAMES = Object.keys(LAUNCHER_COMMANDS) as LauncherCommand[];

function isCommand(name: string | undefined): name is LauncherCommand {
  return name !== undefined && Object.hasOwn(LOAD, name);
}

/** `upkit --help`: every command with its summary. */
async function overview(word: string): Promise<string> {
  const specs = await Promise.all(NAMES.map(async (n) => [n, await LOAD[n]()] as const));
  const lines = [
    `usage: ${word} <command> [options]`,
    '',
    'Installs, upgrades, backs up, restores and verifies a PostgreSQL + Drizzle application, from any directory.',
    '',
    'commands:',
  ];
  for (const [name, spec] of specs) lines.push(`  ${name.padEnd(12)}${spec.summary}`);
  lines.push('', `Each command's options: ${word} <command> --help. Configuration is read from .env in the current`);
  lines.push('directory, or the file --dotenv PATH (or UPKIT_ENV_FILE) names.');
  lines.push(
    '',
    'exit codes: 0 ok, 1 failed after changes began, 2 usage or configuration, 3 refused (nothing changed),',
  );
  lines.push(
    '            4 verification found problems, 5 another run holds the lock, 6 health checks failed, 130 interrupted',
  );
  return lines.join('\n');
}

function refuse(message: string, hint: string): number {
  writeOutput(process.stderr, `✖ ${message}\n  → ${hint}\n`);
  return 2;
}

/**
 * Runs `upkit <command> [options]`. `launcher` is bin/upkit's real path: from here on every
 * command to paste is written with it (lib/invocation.ts), so that it works from any directory.
 */
export async function launch(args: readonly string[], launcher: string): Promise<number> {
  useLauncher(launcher);
  registerPublic(launcher);
  const word = shellQuote(launcher);
  const [name, ...rest] = args;
  if (name === '--help' || name === '-h' || name === 'help') {
    writeOutput(process.stdout, `${await overview(word)}\n`);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    writeOutput(process.stdout, `upkit ${VERSION}\n`);
    return 0;
  }
  if (name === undefined) return refuse(`no command given (commands: ${NAMES.join(', ')})`, `run: ${word} --help`);
  if (!isCommand(name))
    return refuse(`"${visible(name)}" is not an upkit command (commands: ${NAMES.join(', ')})`, `run: ${word} --help`);
  const spec = await LOAD[name]();
  const help = helpOnly(spec, rest);
  if (help !== undefined) {
    writeOutput(process.stdout, `${help}\n`);
    return 0;
  }
  const { runCommand } = await import('../cli.ts');
  return runCommand(spec, import.meta.url, rest);
}
