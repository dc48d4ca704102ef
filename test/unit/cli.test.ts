import { describe, expect, it } from 'vitest';
import { argsAfter, parseCommandLine, usage, type CommandSpec } from '../../lib/cli.ts';
import { EXIT, exitCodeFor, UpkitError } from '../../lib/errors.ts';

const spec: CommandSpec = {
  name: 'demo-cmd',
  invocation: 'npx zx scripts/x.ts',
  summary: 'Does x.',
  options: {
    json: { type: 'boolean', description: 'json' },
    'backup-dir': { type: 'string', valueName: 'DIR', description: 'where' },
  },
  positionals: [{ name: 'FILE', description: 'a file', required: true }],
  run: async () => 0,
};

describe('command line', () => {
  it('parses known flags and positionals strictly', () => {
    expect(parseCommandLine(spec, ['f.dump', '--json', '--backup-dir', '/b'])).toEqual({
      values: { json: true, 'backup-dir': '/b' },
      positionals: ['f.dump'],
      help: false,
    });
  });

  it.each([
    [['--bogus', 'f'], "Unknown option '--bogus'"],
    [['--backup-dir'], "Option '--backup-dir <value>' argument missing"],
    [[], 'missing FILE'],
    [['a', 'b'], 'unexpected argument "b"'],
  ])('refuses %j with exit 2', (args, message) => {
    let caught: unknown;
    try {
      parseCommandLine(spec, args);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UpkitError);
    expect((caught as UpkitError).message).toBe(message);
    expect(exitCodeFor(caught)).toBe(EXIT.usage);
    expect((caught as UpkitError).hint).toBe('run: npx zx scripts/x.ts --help');
  });

  it('lets --help through without the required arguments', () => {
    expect(parseCommandLine(spec, ['--help']).help).toBe(true);
    expect(usage(spec)).toContain('usage: npx zx scripts/x.ts FILE [options]');
    expect(usage(spec)).toContain('--backup-dir DIR');
  });

  describe('an option that may stand alone or carry a value after = (--allow-destructive)', () => {
    const bare: CommandSpec = {
      ...spec,
      positionals: [],
      options: {
        ...spec.options,
        'allow-destructive': { type: 'string', bare: true, valueName: 'TAG,…', description: 'accept' },
      },
    };
    const error = (args: string[]) => {
      try {
        parseCommandLine(bare, args);
      } catch (err) {
        return [(err as UpkitError).message, (err as UpkitError).hint, exitCodeFor(err)];
      }
      return null;
    };

    it('alone is true, with = its value, repeated the values joined', () => {
      expect(parseCommandLine(bare, ['--allow-destructive', '--json']).values).toEqual({
        'allow-destructive': true,
        json: true,
      });
      expect(parseCommandLine(bare, ['--json', '--allow-destructive']).values).toEqual({
        'allow-destructive': true,
        json: true,
      });
      expect(parseCommandLine(bare, ['--allow-destructive=0007_x,0008_y']).values).toEqual({
        'allow-destructive': '0007_x,0008_y',
      });
      expect(parseCommandLine(bare, ['--allow-destructive=0007_x', '--allow-destructive=0008_y']).values).toEqual({
        'allow-destructive': '0007_x,0008_y',
      });
      expect(parseCommandLine(bare, ['--json']).values).toEqual({ json: true });
      expect(usage(bare)).toContain('--allow-destructive[=TAG,…]');
    });

    it('refuses a value as the next argument, and both forms at once', () => {
      expect(error(['--allow-destructive', '0007_x'])).toEqual([
        '--allow-destructive takes its value after "=", not as the next argument "0007_x"',
        'run: npx zx scripts/x.ts --allow-destructive=0007_x',
        EXIT.usage,
      ]);
      expect(error(['--allow-destructive', '--allow-destructive=0007_x'])).toEqual([
        '--allow-destructive alone and --allow-destructive=0007_x do not go together: alone it takes in everything',
        'run: npx zx scripts/x.ts --allow-destructive=0007_x (or --allow-destructive alone)',
        EXIT.usage,
      ]);
      // After `--` it is a positional like any other.
      expect(error(['--', '--allow-destructive'])).toEqual([
        'unexpected argument "--allow-destructive"',
        'run: npx zx scripts/x.ts --help',
        EXIT.usage,
      ]);
    });
  });

  it('finds the arguments after the entry file under zx, node and tsx', () => {
    const url = 'file:///work/upkit/upgrade.ts';
    expect(argsAfter(url, ['/usr/bin/node', '/x/node_modules/.bin/zx', '/work/upkit/upgrade.ts', '--json'])).toEqual([
      '--json',
    ]);
    expect(argsAfter(url, ['/usr/bin/node', '/work/upkit/upgrade.ts', '--dry-run'])).toEqual(['--dry-run']);
  });

  it('maps every error to the documented exit code', () => {
    expect(exitCodeFor(new UpkitError({ code: 'x', exit: 'locked', message: 'm' }))).toBe(5);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
    expect(EXIT).toEqual({
      ok: 0,
      failed: 1,
      usage: 2,
      refused: 3,
      verification: 4,
      locked: 5,
      health: 6,
      interrupted: 130,
    });
  });
});
