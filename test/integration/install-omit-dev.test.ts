// The server install, as docs/install.md gives it: upkit's tracked files copied elsewhere,
// `npm ci --omit=dev` there (no .npmrc, no NODE_OPTIONS), then every command's --help and a
// real upgrade and verify through that copy's bin/upkit, run from another directory. Proves
// the install is small, that nothing that runs imports a devDependency, and that `npm ci`
// compiled upkit's modules (.build/) and bin/upkit runs them. A second copy installed with
// `--ignore-scripts` (no build) upgrades and verifies from the TypeScript sources.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { backupArgs, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { copyOfUpkit } from '../support/upkitCopy.ts';

const COMMANDS = [
  'upgrade',
  'install',
  'verify',
  'preflight',
  'status',
  'backup',
  'restore',
  'rollback',
  'mark',
  'health',
];
const LIMIT_BYTES = 50 * 1024 * 1024;

/**
 * npm's error codes for a registry it cannot reach (or, offline, a package not in its cache):
 * the one reason this test skips. Any other failure of `npm ci` fails it.
 */
const UNREACHABLE = new RegExp(
  'npm (?:ERR!|error) code (ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|' +
    String.raw`ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ENOTCACHED|ERR_SOCKET_TIMEOUT)\b`,
);

/**
 * The environment a server's shell gives: no NODE_OPTIONS, no npm_* of a surrounding `npm test`, npm's own cache and
 * proxy kept.
 */
function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of [
    'PATH',
    'HOME',
    'TMPDIR',
    'LANG',
    'npm_config_cache',
    'npm_config_registry',
    'npm_config_userconfig',
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'NO_PROXY',
    'http_proxy',
    'https_proxy',
    'no_proxy',
  ]) {
    if (process.env[k] !== undefined) env[k] = process.env[k]!;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Bytes of every file under a folder, links not followed (what the install puts on disk). */
function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += sizeOf(p);
    else total += lstatSync(p).size;
  }
  return total;
}

/** Which modules a run's log files say bin/upkit.js ran. */
function modulesIn(logDir: string): string[] {
  return readdirSync(logDir).flatMap((f) =>
    [...readFileSync(path.join(logDir, f), 'utf8').matchAll(/ modules: (.*)$/gm)].map((m) => m[1]!),
  );
}

/**
 * upkit's tracked files in a new folder, without the .npmrc (a server has none: its loader line is only for `npx zx` in
 * upkit's own directory).
 */
function serverCopy(): string {
  const copy = copyOfUpkit('upkit-server-install-');
  rmSync(path.join(copy, '.npmrc'), { force: true });
  return copy;
}

function run(
  file: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('server install: npm ci --omit=dev', () => {
  const db = useFreshDatabase();
  let copy = '';
  let bare = '';
  let installed: { code: number | null; stdout: string; stderr: string } | undefined;
  let installedBare: { code: number | null; stdout: string; stderr: string } | undefined;
  let unreachable: string | undefined;

  beforeAll(async () => {
    copy = serverCopy();
    installed = await run(
      'npm',
      ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'],
      copy,
      serverEnv(),
      300_000,
    );
    const code = UNREACHABLE.exec(installed.stderr)?.[1];
    if (installed.code !== 0 && code)
      unreachable = `npm cannot reach the packages (${code}): ${installed.stderr
        .split('\n')
        .find((l) => l.includes(code))
        ?.trim()}`;
    if (unreachable) return;
    // With --ignore-scripts npm runs no postinstall: nothing is compiled.
    bare = serverCopy();
    installedBare = await run(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
      bare,
      serverEnv(),
      300_000,
    );
  }, 630_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
    if (bare) rmSync(bare, { recursive: true, force: true });
  });

  it("compiles upkit's modules to .build/ (the postinstall script), with a stamp of every source", (ctx) => {
    if (unreachable) return ctx.skip(unreachable);
    expect(installed!.code, installed!.stderr).toBe(0);
    const stamp = JSON.parse(readFileSync(path.join(copy, '.build', 'stamp.json'), 'utf8')) as {
      files: Record<string, unknown>;
    };
    expect(Object.keys(stamp.files)).toEqual(
      expect.arrayContaining(['lib/commands/launcher.ts', 'lib/upgrade.ts', 'verify/run.ts', 'profiles/pulse.ts']),
    );
    for (const f of Object.keys(stamp.files).filter((f) => f.endsWith('.ts')))
      expect(existsSync(path.join(copy, '.build', f.replace(/\.ts$/, '.js'))), f).toBe(true);
    expect(installedBare!.code, installedBare!.stderr).toBe(0);
    expect(existsSync(path.join(bare, '.build'))).toBe(false);
  });

  it('installs under 50 MB, with none of the packages the lockfile marks as for development only', (ctx) => {
    if (unreachable) return ctx.skip(unreachable);
    expect(installed!.code, installed!.stderr).toBe(0);
    expect(existsSync(path.join(copy, '.npmrc'))).toBe(false);
    const bytes = sizeOf(path.join(copy, 'node_modules'));
    expect(bytes, `node_modules is ${(bytes / 1024 / 1024).toFixed(1)} MB`).toBeLessThan(LIMIT_BYTES);
    // What the lockfile says only development needs (`dev`; `devOptional` is
    // also wanted, optionally, by what runs), none installed.
    const lock = JSON.parse(readFileSync(path.join(copy, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([where, p]) => where && p.dev === true)
      .map(([where]) => where);
    expect(devOnly.length).toBeGreaterThan(0);
    expect(devOnly.filter((where) => existsSync(path.join(copy, where)))).toEqual([]);
  });

  it("runs every command's --help through its bin/upkit from another directory", async (ctx) => {
    if (unreachable) return ctx.skip(unreachable);
    expect(installed!.code, installed!.stderr).toBe(0);
    const launcher = path.join(copy, 'bin', 'upkit');
    const cwd = mkdtempSync(path.join(tmpdir(), 'upkit-elsewhere-'));
    const all = await run(launcher, ['--help'], cwd, serverEnv());
    expect(all.code, all.stderr).toBe(0);
    for (const c of COMMANDS) expect(all.stdout).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    for (const c of COMMANDS) {
      const r = await run(launcher, [c, '--help'], cwd, serverEnv({ UPKIT_LOG_DIR: path.join(cwd, 'logs') }));
      expect(r.code, `${c}: ${r.stderr}`).toBe(0);
      expect(r.stdout.split('\n')[0]).toMatch(
        new RegExp(`^usage: ${launcher.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ${c}\\b`),
      );
    }
  }, 240_000);

  async function upgradeAndVerify(copy: string): Promise<string[]> {
    await asRelease(db(), 'v1.0');
    const launcher = path.join(copy, 'bin', 'upkit');
    const cwd = mkdtempSync(path.join(tmpdir(), 'upkit-ops-'));
    writeFileSync(path.join(cwd, '.env'), `DATABASE_URL=${db().url}\nBACKUP_DIR=backups\n`, { mode: 0o600 });
    const env = serverEnv({ UPKIT_LOG_DIR: path.join(cwd, 'logs') });
    const up = await run(launcher, ['upgrade', '--yes', '--json', ...backupArgs()], cwd, env);
    expect(up.code, up.stderr).toBe(0);
    expect((JSON.parse(up.stdout) as Report).release).toEqual({ from: 'v1.0', to: 'v2.3' });
    const verify = await run(launcher, ['verify', '--json'], cwd, env);
    expect(verify.code, verify.stderr).toBe(0);
    expect((JSON.parse(verify.stdout) as Report).exitCode).toBe(0);
    const runs = await withClientAt(
      db().url,
      async (c) => (await c.query(`select command, status from upkit.runs`)).rows,
    );
    expect(runs).toContainEqual({ command: 'upgrade', status: 'ok' });
    return modulesIn(path.join(cwd, 'logs'));
  }

  it('upgrades v1.0 and verifies it through its bin/upkit, ' +
    'from another directory holding .env, running the compiled modules', async (ctx) => {
    if (unreachable) return ctx.skip(unreachable);
    expect(installed!.code, installed!.stderr).toBe(0);
    const modules = await upgradeAndVerify(copy);
    expect(modules).toEqual(['compiled (.build/)', 'compiled (.build/)']);
  }, 240_000);

  it('installed with --ignore-scripts (nothing compiled), ' +
    'upgrades and verifies from the TypeScript sources', async (ctx) => {
    if (unreachable) return ctx.skip(unreachable);
    expect(installedBare!.code, installedBare!.stderr).toBe(0);
    const modules = await upgradeAndVerify(bare);
    expect(modules).toHaveLength(2);
    for (const m of modules) expect(m).toMatch(/^TypeScript sources( through tsx|, types stripped by Node)$/);
  }, 240_000);
});
