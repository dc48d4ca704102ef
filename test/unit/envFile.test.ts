// Which configuration file is read: --dotenv (or --env-file), else UPKIT_ENV_FILE, else
// `.env` in the working directory; a named file that is not there is upkit's own one line.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCommandLine, usage, type CommandSpec, COMMON_OPTIONS } from '../../lib/cli.ts';
import { envFileArgs, envFileOf, givenEnvFile, loadConfig } from '../../lib/config.ts';
import { UpkitError } from '../../lib/errors.ts';
import { clearSecrets } from '../../lib/redact.ts';
import { shellQuote } from '../../lib/quote.ts';

afterEach(() => clearSecrets());

function dir(): string {
  return mkdtempSync(path.join(tmpdir(), 'upkit-envfile-'));
}

/** A folder with .env, a.env and sub/b.env, each naming its own database. */
function folder(): string {
  const d = dir();
  writeFileSync(path.join(d, '.env'), 'DATABASE_URL=postgres://u:pw12@h/from_dotenv\n');
  writeFileSync(path.join(d, 'a.env'), 'DATABASE_URL=postgres://u:pw12@h/from_a\n');
  mkdirSync(path.join(d, 'sub'));
  writeFileSync(path.join(d, 'sub', 'b.env'), 'DATABASE_URL=postgres://u:pw12@h/from_b\n');
  return d;
}

function refusal(fn: () => unknown): UpkitError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UpkitError);
    return err as UpkitError;
  }
  throw new Error('expected a refusal');
}

describe('the configuration file', () => {
  it('is the option, else UPKIT_ENV_FILE, else ./.env, each relative to the working directory', () => {
    const d = folder();
    expect(loadConfig({ cwd: d, env: {} }).db.database).toBe('from_dotenv');
    expect(loadConfig({ cwd: d, env: { UPKIT_ENV_FILE: 'sub/b.env' } }).db.database).toBe('from_b');
    expect(loadConfig({ cwd: d, env: { UPKIT_ENV_FILE: 'sub/b.env' }, envFile: 'a.env' }).db.database).toBe('from_a');
    expect(loadConfig({ cwd: path.join(d, 'sub'), env: {}, envFile: '../a.env' }).db.database).toBe('from_a');
    expect(loadConfig({ cwd: d, env: { UPKIT_ENV_FILE: '  ' } }).db.database).toBe('from_dotenv');
    expect(loadConfig({ cwd: d, env: { UPKIT_ENV_FILE: path.join(d, 'a.env') } }).envFile).toBe(path.join(d, 'a.env'));
  });

  it('names where it looked when a named file is not there, for the flag and for UPKIT_ENV_FILE', () => {
    const d = folder();
    const byFlag = refusal(() => loadConfig({ cwd: d, env: {}, envFile: 'missing.env', envFileFlag: '--dotenv' }));
    expect(byFlag.exitCode).toBe(2);
    expect(byFlag.message).toBe(`--dotenv: ${path.join(d, 'missing.env')} does not exist`);
    expect(byFlag.hint).toBe(
      `create that file or give the path of the one that holds the settings (a relative path is read from ${d}), ` +
        `then run: npx zx scripts/preflight.ts --dotenv ${shellQuote(path.join(d, 'missing.env'))}`,
    );
    // A name the shell would split or expand is quoted in the command to paste.
    const odd = refusal(() => loadConfig({ cwd: d, env: {}, envFile: "it's $HOME.env", envFileFlag: '--env-file' }));
    expect(odd.hint).toContain(`scripts/preflight.ts --dotenv ${shellQuote(path.join(d, "it's $HOME.env"))}`);
    expect(
      refusal(() => loadConfig({ cwd: d, env: {}, envFile: 'missing.env', envFileFlag: '--env-file' })).message,
    ).toBe(`--env-file: ${path.join(d, 'missing.env')} does not exist`);
    const byEnv = refusal(() => loadConfig({ cwd: d, env: { UPKIT_ENV_FILE: 'gone.env' } }));
    expect(byEnv.message).toBe(`UPKIT_ENV_FILE: ${path.join(d, 'gone.env')} does not exist`);
    expect(byEnv.hint).toBe(
      `set UPKIT_ENV_FILE to the file that holds the settings (a relative path is read from ${d}), ` +
        `or unset it to read ${path.join(d, '.env')}; then run: npx zx scripts/preflight.ts`,
    );
    // The ./.env beside it is not read in its place.
    expect(refusal(() => loadConfig({ cwd: d, env: {}, envFile: 'sub' })).message).toBe(
      `--dotenv: ${path.join(d, 'sub')} is a directory, not a file of KEY=VALUE lines`,
    );
  });

  it('without any: no .env is no file, and the hint offers --dotenv', () => {
    const d = dir();
    expect(envFileOf(undefined, {}, d)).toBeUndefined();
    const err = refusal(() => loadConfig({ cwd: d, env: {} }));
    expect(err.hint).toBe(
      "run upkit in the directory that holds Pulse's .env, or pass --dotenv PATH, or set DATABASE_URL",
    );
  });
});

describe('--dotenv on the command line', () => {
  const spec: CommandSpec = {
    name: 'x',
    invocation: 'npx zx x.ts',
    summary: 's',
    options: { ...COMMON_OPTIONS },
    run: async () => 0,
  };

  it('is parsed beside --env-file, and the two together are refused', () => {
    expect(givenEnvFile(parseCommandLine(spec, ['--dotenv', 'a.env']).values, spec.invocation)).toEqual({
      path: 'a.env',
      flag: '--dotenv',
    });
    expect(givenEnvFile(parseCommandLine(spec, ['--dotenv=b c.env']).values, spec.invocation)).toEqual({
      path: 'b c.env',
      flag: '--dotenv',
    });
    expect(givenEnvFile(parseCommandLine(spec, ['--env-file', 'a.env']).values, spec.invocation)).toEqual({
      path: 'a.env',
      flag: '--env-file',
    });
    expect(givenEnvFile(parseCommandLine(spec, []).values, spec.invocation)).toBeUndefined();
    const both = refusal(() =>
      givenEnvFile(parseCommandLine(spec, ['--dotenv', 'a b.env', '--env-file', 'c.env']).values, spec.invocation),
    );
    expect(both.exitCode).toBe(2);
    expect(both.message).toBe('--dotenv and --env-file both name the configuration file: give one');
    expect(both.hint).toBe("run: npx zx x.ts --dotenv 'a b.env'");
  });

  it('is repeated in hints as given, quoted', () => {
    expect(envFileArgs({ dotenv: '/srv/my app/.env' })).toBe(" --dotenv '/srv/my app/.env'");
    expect(envFileArgs({ 'env-file': 'x.env' })).toBe(' --env-file x.env');
    expect(envFileArgs({})).toBe('');
  });

  it("is in every command's usage", () => {
    expect(usage(spec)).toMatch(/--dotenv PATH +read configuration from PATH instead of \.\/\.env \(UPKIT_ENV_FILE\)/);
  });
});
