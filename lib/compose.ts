// The Docker Compose command line, as far as preflight and backup need it: which CLI is
// installed (`docker compose`, else `docker-compose`) and running a program in a service.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ComposeCli {
  command: string;
  baseArgs: string[];
  version: string;
}

export async function detectCompose(): Promise<ComposeCli | undefined> {
  const tries: Array<[string, string[]]> = [
    ['docker', ['compose']],
    ['docker-compose', []],
  ];
  for (const [command, baseArgs] of tries) {
    try {
      const { stdout } = await run(command, [...baseArgs, 'version', '--short'], { timeout: 10_000 });
      return { command, baseArgs, version: stdout.trim() };
    } catch {
      // try the next form
    }
  }
  return undefined;
}

export function composeArgs(cli: ComposeCli, composeFile: string, args: string[]): string[] {
  return [...cli.baseArgs, '--project-directory', path.dirname(composeFile), '-f', composeFile, ...args];
}

/** Runs a program inside a running service, without a TTY so that binary output is safe. */
export async function execInService(cli: ComposeCli, composeFile: string, service: string, argv: string[], timeoutMs = 15_000): Promise<string> {
  const { stdout } = await run(cli.command, composeArgs(cli, composeFile, ['exec', '-T', service, ...argv]), { timeout: timeoutMs });
  return stdout;
}
