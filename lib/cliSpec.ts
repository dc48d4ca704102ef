// What a command is (its name, options, usage text) and how its command line is parsed: all
// that `--help` and `--version` need, and nothing heavier (node:util parseArgs and a few small
// modules). lib/cli.ts runs commands; the launcher and the entry files load it only when a
// command runs (a wrong flag too: it is logged and reported like any error, with the runner's
// logger and report, but no engine), and each command loads its engine only in run().
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Config, ConfigOverrides } from './config.ts';
import { usageError } from './errors.ts';
import type { Logger } from './log.ts';
import { pasteForm } from './invocation.ts';
import type { ReportBuilder } from './report.ts';
import { TARGET_OPTIONS, wantsTargets } from './targets/flags.ts';

export { VERSION } from './version.ts';
export { TARGET_OPTIONS };

export interface OptionSpec {
  type: 'boolean' | 'string';
  description: string;
  /** Shown in usage for string options, e.g. PATH. */
  valueName?: string;
  short?: string;
  /**
   * A string option that may also stand alone (`--name` as well as `--name=VALUE`): alone it
   * gives `true`. Its value comes only after `=`; repeated, the values are joined with commas.
   */
  bare?: true;
}

export interface CommandContext {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  log: Logger;
  report: ReportBuilder;
  /** Loaded before run() unless the spec says `config: false`. */
  config: Config;
  json: boolean;
  /** Aborted on Ctrl-C, SIGTERM or SIGHUP; long work must watch it and stop cleanly. */
  signal: AbortSignal;
  /** The command's result for a person: stdout, or stderr when --json owns stdout. */
  out(text: string): void;
}

export interface CommandSpec {
  name: string;
  invocation: string;
  summary: string;
  /** More paragraphs for --help. */
  description?: string;
  options: Record<string, OptionSpec>;
  /** `required` may depend on the flags (restore's FILE, not needed with --recover). */
  positionals?: Array<{
    name: string;
    description: string;
    required: boolean | ((values: Record<string, unknown>) => boolean);
  }>;
  /** Set false for commands that must run without a valid configuration. */
  config?: boolean;
  /**
   * What a DIRECT_URL that cannot be connected to does before the command runs: refused (the
   * default), or a warning for a command that deals with such a database itself (restore
   * --recover after a stopped swap, status that reports it).
   */
  directUrlUnreachable?: 'refuse' | 'warn';
  /** Read-only commands may be stopped at once on a signal; writers finish their cleanup. */
  readOnly?: boolean;
  overrides?(values: CommandContext['values']): ConfigOverrides;
  run(ctx: CommandContext): Promise<number>;
}

export const COMMON_OPTIONS = {
  json: { type: 'boolean', description: 'write one JSON report to stdout; human output goes to stderr' },
  dotenv: {
    type: 'string',
    valueName: 'PATH',
    description: 'read configuration from PATH instead of ./.env (UPKIT_ENV_FILE)',
  },
  'env-file': {
    type: 'string',
    valueName: 'PATH',
    description: 'the same as --dotenv (Node takes it for itself unless run through bin/upkit)',
  },
} as const satisfies Record<string, OptionSpec>;

export function usage(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => (p.required ? ` ${p.name}` : ` [${p.name}]`)).join('');
  const lines = [`usage: ${spec.invocation}${pos} [options]`, '', spec.summary];
  if (spec.description) lines.push('', spec.description);
  if (spec.positionals?.length) {
    lines.push('', 'arguments:');
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(26)}${p.description}`);
  }
  lines.push('', 'options:');
  const all: Record<string, OptionSpec> = {
    ...spec.options,
    help: { type: 'boolean', short: 'h', description: 'show this help' },
  };
  for (const [name, o] of Object.entries(all)) {
    const value = o.type !== 'string' ? '' : o.bare ? `[=${o.valueName ?? 'VALUE'}]` : ` ${o.valueName ?? 'VALUE'}`;
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${value}`;
    lines.push(`  ${flag.length < 26 ? flag.padEnd(26) : `${flag}  `}${o.description}`);
  }
  lines.push(
    '',
    'exit codes: 0 ok, 1 failed after changes began, 2 usage or configuration, 3 refused (nothing changed),',
  );
  lines.push(
    '            4 verification found problems, 5 another run holds the lock, 6 health checks failed, 130 interrupted',
  );
  return pasteForm(lines.join('\n'));
}

/** The arguments after the entry file, whether run as `npx zx FILE`, `node FILE` or `tsx FILE`. */
export function argsAfter(entryUrl: string, argv: readonly string[] = process.argv): string[] {
  const entry = fileURLToPath(entryUrl);
  const i = argv.findIndex((a, idx) => idx > 0 && path.resolve(a) === entry);
  return argv.slice(i === -1 ? 2 : i + 1);
}

export function parseCommandLine(
  spec: CommandSpec,
  args: string[],
): { values: CommandContext['values']; positionals: string[]; help: boolean } {
  const options: Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, o] of Object.entries(spec.options))
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.bare ? { multiple: true } : {}) };
  const { rest, alone } = takeBare(spec, args);
  const parsed = (() => {
    try {
      return parseArgs({ args: rest, options, strict: true, allowPositionals: true });
    } catch (err) {
      const m = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
      throw usageError(m.replace(/\.$/, ''), `run: ${spec.invocation} --help`);
    }
  })();
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  for (const [name, o] of Object.entries(spec.options)) {
    if (!o.bare) continue;
    const given = values[name] as string[] | undefined;
    if (alone.has(name) && given)
      throw usageError(
        `--${name} alone and --${name}=${given.join(',')} do not go together: alone it takes in everything`,
        `run: ${spec.invocation} --${name}=${given.join(',')} (or --${name} alone)`,
      );
    values[name] = alone.has(name) ? true : given?.join(',');
  }
  const help = parsed.values.help === true;
  const positionals = parsed.positionals;
  const allowed = spec.positionals ?? [];
  if (!help) {
    if (positionals.length > allowed.length) {
      const extra = positionals[allowed.length]!;
      const after = [...alone.values()].find((a) => a.next === extra);
      if (after)
        throw usageError(
          `--${after.name} takes its value after "=", not as the next argument "${extra}"`,
          `run: ${spec.invocation} --${after.name}=${extra}`,
        );
      throw usageError(`unexpected argument "${extra}"`, `run: ${spec.invocation} --help`);
    }
    const missing = allowed.filter(
      (p, i) =>
        (typeof p.required === 'function' ? p.required(parsed.values) : p.required) && positionals[i] === undefined,
    );
    if (missing.length)
      throw usageError(`missing ${missing.map((p) => p.name).join(', ')}`, `run: ${spec.invocation} --help`);
  }
  return { values: values as CommandContext['values'], positionals, help };
}

/** Takes out the options given alone that may also carry a value (`bare`), before parseArgs sees them. */
function takeBare(
  spec: CommandSpec,
  args: readonly string[],
): { rest: string[]; alone: Map<string, { name: string; next: string | undefined }> } {
  const rest: string[] = [];
  const alone = new Map<string, { name: string; next: string | undefined }>();
  const end = args.indexOf('--');
  args.forEach((a, i) => {
    const name = a.startsWith('--') ? a.slice(2) : '';
    if ((end === -1 || i < end) && spec.options[name]?.bare) alone.set(name, { name, next: args[i + 1] });
    else rest.push(a);
  });
  return { rest, alone };
}

/**
 * The usage text when the command line asks for nothing but help: `--help` or `-h`, parsed
 * cleanly, without --json (whose report needs the runner) and without target flags (the
 * targets runner answers those). Undefined otherwise, and for a command line with a mistake,
 * which the runner reports.
 */
export function helpOnly(spec: CommandSpec, args: string[]): string | undefined {
  if (!args.includes('--help') && !args.includes('-h')) return undefined;
  if (('target' in spec.options && wantsTargets(args)) || args.includes('--json')) return undefined;
  try {
    const { help, values } = parseCommandLine(spec, args);
    return help && values.json !== true ? usage(spec) : undefined;
  } catch {
    return undefined;
  }
}
