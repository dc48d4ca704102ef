// Runs an entry file's command inside the test's own process, through lib/cli.ts's in-process
// runner (executeCommand with CommandIO: env, cwd, stream, log folder), as runUpkit runs it in a
// child: the same environment, a private log folder and working directory, `--help` alone
// answered with the usage text on stdout, the --json report on stdout. For usage and
// configuration cases, which end before anything depends on the process itself; whatever is
// about signals, process exit, closed stdout, argv, the environment or the Node version runs in
// a child (runUpkit).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { executeCommand, helpOnly, parseCommandLine, type CommandSpec } from '../../lib/cli.ts';
import { LAUNCHER_COMMANDS, useLauncher } from '../../lib/invocation.ts';
import { clearSecrets } from '../../lib/redact.ts';
import { wantsTargets } from '../../lib/targets/flags.ts';
import { baseEnv, type RunOptions, type RunResult, runResult } from './cli.ts';

/** The command an entry file runs (upgrade.ts: lib/commands/upgrade.ts's upgradeCommand). */
async function specOf(entry: string): Promise<CommandSpec> {
  const name = Object.entries(LAUNCHER_COMMANDS).find(([, file]) => file === entry)?.[0];
  if (!name) throw new Error(`${entry} is not one of upkit's command entry files: run it with runUpkit`);
  const module = (await import(`../../lib/commands/${name}.ts`)) as Record<string, CommandSpec>;
  const spec = module[`${name}Command`];
  if (!spec) throw new Error(`lib/commands/${name}.ts exports no ${name}Command`);
  return spec;
}

/** A stream the logger writes to as it would to stderr (not a terminal: plain, timestamped lines). */
function capture(onText: (text: string) => void): NodeJS.WriteStream {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      onText(chunk.toString());
      done();
    },
  });
  return Object.assign(stream, { isTTY: false }) as unknown as NodeJS.WriteStream;
}

export type InProcessOptions = Pick<RunOptions, 'env' | 'cwd'>;

export async function runInProcess(
  entry: string,
  args: string[] = [],
  options: InProcessOptions = {},
): Promise<RunResult> {
  const spec = await specOf(entry);
  if ('target' in spec.options && wantsTargets(args))
    throw new Error('a run over the targets file starts its own runner: run it with runUpkit');
  const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-logs-'));
  const env: Record<string, string> = baseEnv(logDir);
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  // The logger reads UPKIT_LOG_KEEP from the process's own environment, which an in-process run shares.
  if (env.UPKIT_LOG_KEEP !== undefined) throw new Error('UPKIT_LOG_KEEP is read from the process: run with runUpkit');
  const cwd = options.cwd ?? mkdtempSync(path.join(tmpdir(), 'upkit-cwd-'));
  let stdout = '';
  let stderr = '';
  const started = performance.now();
  // What a new process starts without: no secret or public name from an earlier run, no launcher.
  clearSecrets();
  useLauncher(undefined);
  let code: number;
  const help = helpOnly(spec, args);
  if (help !== undefined) {
    stdout += `${help}\n`;
    code = 0;
  } else {
    // The command's result for a person: stdout, or stderr when --json owns stdout (lib/cli.ts);
    // --help among other flags is the usage text, on stdout whatever the flags.
    let json = false;
    try {
      const parsed = parseCommandLine(spec, args);
      json = parsed.values.json === true && !parsed.help;
    } catch {
      // a wrong command line: the runner reports it, and writes no result
    }
    const result = await executeCommand(spec, args, {
      env,
      cwd,
      logDir: env.UPKIT_LOG_DIR,
      stream: capture((text) => (stderr += text)),
      interactive: false,
      out: (text) => {
        if (json) stderr += `${text}\n`;
        else stdout += `${text}\n`;
      },
    });
    // As runCommand writes it for `--json`.
    if (args.includes('--json')) stdout += `${JSON.stringify(result.report, null, 2)}\n`;
    code = result.exitCode;
  }
  return runResult({ code, signal: null, stdout, stderr, started, logDir });
}
