// The catalogue's build case (test/failures/hardening/startupspeed.ts): `npm run build` where
// upkit's folder cannot be written prints one line and its hint, and upkit goes on running
// from its sources. Run in a copy of upkit's tracked files (node_modules linked) that the
// build's user may read but not write: as root, the build runs as `nobody`.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectCase, failureCase } from '../failures/check.ts';
import type { RunResult } from '../support/cli.ts';
import { copyOfUpkit } from '../support/upkitCopy.ts';

describe('failures: start-up speed', () => {
  let copy = '';
  afterAll(() => {
    if (!copy) return;
    chmodSync(copy, 0o755);
    rmSync(copy, { recursive: true, force: true });
  });

  it('build.unwritable', (ctx) => {
    const c = failureCase('build.unwritable');
    copy = copyOfUpkit('upkit-readonly-', { linkModules: true });
    const env = { PATH: process.env.PATH ?? '', HOME: tmpdir(), NO_COLOR: '1' };
    const asRoot = process.getuid?.() === 0;
    // Readable by all; written by no one but root, whom the build does not run as.
    chmodSync(copy, asRoot ? 0o755 : 0o555);
    const argv = asRoot
      ? (['runuser', ['-u', 'nobody', '--', process.execPath, path.join(copy, c.entry)]] as const)
      : ([process.execPath, [path.join(copy, c.entry)]] as const);
    if (asRoot && spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', '0']).status !== 0)
      return ctx.skip('runuser -u nobody cannot run node here');
    const b = spawnSync(argv[0], [...argv[1]], { cwd: copy, env, encoding: 'utf8' });
    const r: RunResult = {
      code: b.status,
      signal: null,
      stdout: b.stdout,
      stderr: b.stderr,
      durationMs: 0,
      logDir: '',
      logs: () => '',
      json: () => {
        throw new Error('no --json for the build');
      },
    };
    expectCase(r, c, { root: copy });
    expect(existsSync(path.join(copy, '.build'))).toBe(false);
    // upkit still runs, from its sources, and its log says so.
    const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-readonly-logs-'));
    const s = spawnSync(path.join(copy, 'bin', 'upkit'), ['status'], {
      cwd: tmpdir(),
      env: { ...env, UPKIT_LOG_DIR: logDir },
      encoding: 'utf8',
    });
    expect(s.status, s.stderr).toBe(2);
    const logs = readdirSync(logDir)
      .map((f) => readFileSync(path.join(logDir, f), 'utf8'))
      .join('');
    expect(logs).toMatch(/modules: TypeScript sources( through tsx|, types stripped by Node)/);
    expect(spawnSync(path.join(copy, 'bin', 'upkit'), ['--version'], { env, encoding: 'utf8' }).stdout).toMatch(
      /^upkit \d+\.\d+\.\d+\n$/,
    );
  }, 60_000);
});
