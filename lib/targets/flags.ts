// The flags that choose targets, taken out of a command line before the rest goes to each
// target's command unchanged.
import { usageError } from '../errors.ts';
import { shellQuote } from '../quote.ts';

/** Spread into the options of each command that runs per target (lib/cli.ts OptionSpec's shape). */
export const TARGET_OPTIONS = {
  target: { type: 'string', valueName: 'NAME', description: 'run for this target of the targets file (repeatable)' },
  all: { type: 'boolean', description: 'run for every target of the targets file' },
  targets: {
    type: 'string',
    valueName: 'PATH',
    description: 'the targets file (UPKIT_TARGETS; default ./upkit.targets.json)',
  },
  concurrency: {
    type: 'string',
    valueName: 'N',
    description: 'with --target/--all: how many targets run at once (default: up to 4)',
  },
  'fail-fast': { type: 'boolean', description: 'with --target/--all: start no other target after one fails' },
} as const;

export interface TargetFlags {
  names: string[];
  all: boolean;
  targetsFile: string | undefined;
  concurrency: number | undefined;
  failFast: boolean;
  /** The command line without the flags above: what each target's command is given. */
  rest: string[];
}

const WITH_VALUE = new Set(['target', 'targets', 'concurrency']);
const ALONE = new Set(['all', 'fail-fast']);

/** Whether the command line asks for targets at all (any of their flags, before a `--`). */
export function wantsTargets(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return args.some((a, i) => (end === -1 || i < end) && /^--(target|targets|all|concurrency|fail-fast)(=|$)/.test(a));
}

export function takeTargetFlags(args: readonly string[], invocation: string): TargetFlags {
  const flags: TargetFlags = {
    names: [],
    all: false,
    targetsFile: undefined,
    concurrency: undefined,
    failFast: false,
    rest: [],
  };
  const end = args.indexOf('--');
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = end === -1 || i < end ? /^--([a-z-]+)(?:=(.*))?$/s.exec(a) : null;
    const name = m?.[1];
    if (!m || !name || (!WITH_VALUE.has(name) && !ALONE.has(name))) {
      flags.rest.push(a);
      continue;
    }
    if (ALONE.has(name)) {
      if (m[2] !== undefined) throw usageError(`--${name} takes no value`, `run: ${invocation} --${name}`);
      if (name === 'all') flags.all = true;
      else flags.failFast = true;
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      value = args[i + 1];
      if (value === undefined || value.startsWith('--'))
        throw usageError(`--${name} needs a value`, `run: ${invocation} --help`);
      i += 1;
    }
    if (name === 'target') {
      const names = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!names.length)
        throw usageError('--target needs a target name', `run: ${invocation} --all (or --target NAME)`);
      flags.names.push(...names);
    } else if (name === 'targets') flags.targetsFile = value;
    else {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 64)
        throw usageError(
          `--concurrency must be a whole number from 1 to 64, got "${value}"`,
          `run: ${invocation} --all --concurrency 4`,
        );
      flags.concurrency = n;
    }
  }
  if (flags.all && flags.names.length)
    throw usageError(
      '--all and --target do not go together: --all takes in every target',
      `run: ${invocation} --all (or --target ${flags.names[0]} alone)`,
    );
  if (!flags.all && !flags.names.length) {
    const given =
      ['targets', 'concurrency', 'fail-fast'].find((f) =>
        args.some((a) => a === `--${f}` || a.startsWith(`--${f}=`)),
      ) ?? 'target';
    throw usageError(
      `--${given} applies to a run over targets: add --all or --target NAME`,
      `run: ${[invocation, '--all', ...args.map(shellQuote)].join(' ')}`,
    );
  }
  return flags;
}
