// The launcher (bin/upkit) and the configuration file it is pointed at: see
// test/failures/catalogue.ts for what a case is. Each is run through bin/upkit from a
// directory of its own, as cron or a systemd unit runs it; {upkit} is the launcher's absolute
// path, which every hint names when upkit was started through it.
import type { FailureCase } from '../types.ts';

const COMMANDS = 'upgrade, install, verify, preflight, status, backup, restore, rollback, mark, health';

export const launchCases: FailureCase[] = [
  {
    id: 'launch.dotenv-missing',
    group: 'configuration',
    title: 'A --dotenv file that is not there',
    did:
      'Ran the upgrade through the launcher with `--dotenv pulse.env` from a directory ' +
      'that holds no pulse.env (a cron job whose working directory is not the one meant).',
    entry: 'bin/upkit',
    args: ['upgrade', '--dotenv', 'pulse.env', '--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'config.invalid',
    message: '--dotenv: {cwd}/pulse.env does not exist',
    hint:
      'create that file or give the path of the one that holds the settings (a relative ' +
      'path is read from {cwd}), then run: {upkit} preflight --dotenv {cwd}/pulse.env',
    exit: 2,
    changed:
      'nothing (no database was reached: the settings are in the file that is not there, so nothing else is checked)',
    note:
      'The same line for UPKIT_ENV_FILE (named `UPKIT_ENV_FILE:`, with a hint to set or unset it). ' +
      'A relative path is read from the current directory, the one named in the line.',
    test: 'failures-launch.test.ts',
  },
  {
    id: 'launch.env-file-missing',
    group: 'configuration',
    title: 'An --env-file that is not there',
    did:
      'Ran the upgrade through the launcher with `--env-file pulse.env`, a file that is not there. ' +
      'Run as `node FILE --env-file PATH` (or `npx zx upgrade.ts --env-file PATH`), ' +
      'Node 20, 22 and 24 read that flag themselves wherever it stands and stops with its own `node: ' +
      "PATH: not found` and exit 9; the launcher keeps upkit's arguments from Node.",
    entry: 'bin/upkit',
    args: ['upgrade', '--env-file', 'pulse.env', '--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'config.invalid',
    message: '--env-file: {cwd}/pulse.env does not exist',
    hint:
      'create that file or give the path of the one that holds the settings (a relative ' +
      'path is read from {cwd}), then run: {upkit} preflight --dotenv {cwd}/pulse.env',
    exit: 2,
    changed: 'nothing (no database was reached)',
    note: '`--dotenv` is the same option under a name no Node version takes for itself; hints print that one.',
    test: 'failures-launch.test.ts',
  },
  {
    id: 'launch.no-node',
    group: 'tools',
    title: 'No node on PATH',
    did:
      'Ran the launcher from a cron job whose short PATH has no node ' +
      '(Node installed under /usr/local or by a version manager).',
    entry: 'bin/upkit',
    args: ['upgrade', '--yes'],
    env: { DATABASE_URL: '{url}', PATH: '{bin}' },
    code: 'node.missing',
    message: 'upkit needs Node 20.10 or newer, and there is no node on PATH ({bin})',
    hint: 'install Node 22 or 24, or put its bin folder on PATH (cron and systemd set a short PATH)',
    exit: 2,
    json: false,
    changed: 'nothing (upkit did not start)',
    note:
      "The shell's own answer would have been `node: not found` and exit 127. A Node older than " +
      '20.10 on PATH gets its own line, exit 2, from bin/upkit.js before anything is loaded.',
    test: 'failures-launch.test.ts',
  },
  {
    id: 'launch.unknown-command',
    group: 'command-line',
    title: 'A command the launcher does not have',
    did: 'Typed `upkit upgade --yes` (a misspelt command).',
    entry: 'bin/upkit',
    args: ['upgade', '--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: `"upgade" is not an upkit command (commands: ${COMMANDS})`,
    hint: 'run: {upkit} --help',
    exit: 2,
    json: false,
    changed: 'nothing (no command ran, no configuration was read)',
    note: 'No command at all is refused the same way (`no command given`).',
    test: 'failures-launch.test.ts',
  },
];
