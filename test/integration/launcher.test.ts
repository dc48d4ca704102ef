// The launcher (bin/upkit) from any directory: by absolute path and through symlinks, with no
// .npmrc and no NODE_OPTIONS, `.env` read from the current directory (or the file --dotenv or
// UPKIT_ENV_FILE names, relative to it), and every command to paste written in the launcher's
// form. Also: `npx zx upgrade.ts` from upkit's own directory still works, and every entry
// point stops an older Node with one line and exit 2.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIN_NODE, nodeProblem } from '../../lib/nodeGate.ts';
import { shellQuote } from '../../lib/quote.ts';
import type { Report } from '../../lib/report.ts';
import { ROOT, runNpxZx, runUpkit } from '../support/cli.ts';
import { backupArgs, backupsTestable, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

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
const ENTRIES = [
  'upgrade.ts',
  'install.ts',
  'verify/index.ts',
  'scripts/preflight.ts',
  'scripts/status.ts',
  'scripts/backup.ts',
  'scripts/restore.ts',
  'scripts/rollback.ts',
  'scripts/mark.ts',
  'scripts/health.ts',
];
const LAUNCHER = realpathSync(path.join(ROOT, 'bin/upkit'));
const UPKIT = shellQuote(LAUNCHER);

const tempDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

/** A directory elsewhere with links to the launcher: one direct, one through another link. */
function linkedLauncher(): { direct: string; twice: string } {
  const d = tempDir('upkit-links-');
  mkdirSync(path.join(d, 'bin'));
  symlinkSync(LAUNCHER, path.join(d, 'upkit'));
  symlinkSync('../upkit', path.join(d, 'bin', 'upkit'));
  return { direct: path.join(d, 'upkit'), twice: path.join(d, 'bin', 'upkit') };
}

/** Runs a launcher (or link to it) as a shell runs it: no loader, no .npmrc, no NODE_OPTIONS. */
function runLink(file: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(file, args, {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NO_COLOR: '1',
      UPKIT_LOG_DIR: tempDir('upkit-logs-'),
      ...env,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bin/upkit', () => {
  const db = useFreshDatabase();

  it("lists its ten commands, and each one's --help is the " +
    "command's usage in the launcher's form, from another directory", async () => {
    const cwd = tempDir('upkit-elsewhere-');
    const all = await runUpkit('bin/upkit', ['--help'], { cwd });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^usage: ${escapeRegExp(UPKIT)} <command> \\[options\\]`));
    for (const c of COMMANDS) expect(all.stdout).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    for (const c of COMMANDS) {
      const r = await runUpkit('bin/upkit', [c, '--help'], { cwd });
      expect(r.code, `${c}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ${escapeRegExp(UPKIT)} ${c}\\b`));
      expect(r.stdout, c).not.toContain('npx zx');
    }
  }, 240_000);

  it('runs through a symlink and a symlink to that symlink, from any directory', () => {
    const { direct, twice } = linkedLauncher();
    for (const link of [direct, twice]) {
      const r = runLink(link, ['status', '--help'], tempDir('upkit-cwd-'));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ${escapeRegExp(UPKIT)} status\\b`));
    }
  });

  it('upgrades and verifies from another directory, reading .env there; ' +
    'backups land where BACKUP_DIR says, relative to it', async () => {
    await asRelease(db(), 'v1.0');
    const cwd = tempDir('upkit-server-');
    writeFileSync(path.join(cwd, '.env'), `DATABASE_URL=${db().url}\nBACKUP_DIR=upkit-backups\n`, { mode: 0o600 });
    const { twice } = linkedLauncher();
    const up = runLink(twice, ['upgrade', '--yes', '--json', ...backupArgs()], cwd);
    expect(up.code, up.stderr).toBe(0);
    const report = JSON.parse(up.stdout) as Report;
    expect(report.release).toEqual({ from: 'v1.0', to: 'v2.3' });
    if (backupsTestable())
      expect(readdirSync(path.join(cwd, 'upkit-backups')).some((f) => f.endsWith('.dump'))).toBe(true);
    const verify = runLink(twice, ['verify', '--json'], cwd);
    expect(verify.code, verify.stderr).toBe(0);
    expect((JSON.parse(verify.stdout) as Report).exitCode).toBe(0);
    const runs = await withClientAt(
      db().url,
      async (c) => (await c.query(`select command, status from upkit.runs order by started_at`)).rows,
    );
    expect(runs).toContainEqual({ command: 'upgrade', status: 'ok' });
    // The launcher's own directory got no .env of this run.
    expect(existsSync(path.join(ROOT, 'bin', '.env'))).toBe(false);
  }, 240_000);

  it('reads --dotenv relative to the current directory ' +
    'over UPKIT_ENV_FILE, and UPKIT_ENV_FILE over ./.env', async () => {
    await asRelease(db(), 'v2.3');
    const cwd = tempDir('upkit-dotenv-');
    mkdirSync(path.join(cwd, 'conf'));
    // ./.env and the UPKIT_ENV_FILE file name a database that does not exist: read, they fail.
    const wrong = new URL(db().url);
    wrong.pathname = '/upkit_no_such_database';
    writeFileSync(path.join(cwd, '.env'), `DATABASE_URL=${wrong.toString()}\n`);
    writeFileSync(path.join(cwd, 'conf', 'wrong.env'), `DATABASE_URL=${wrong.toString()}\n`);
    writeFileSync(path.join(cwd, 'conf', 'pulse.env'), `DATABASE_URL=${db().url}\n`);
    const byOption = await runUpkit('bin/upkit', ['status', '--dotenv', 'conf/pulse.env'], {
      cwd,
      env: { UPKIT_ENV_FILE: 'conf/wrong.env' },
    });
    expect(byOption.code, byOption.stderr).toBe(0);
    expect(byOption.stdout).toContain(`${db().database}: v2.3, up to date`);
    const byEnv = await runUpkit('bin/upkit', ['status'], { cwd, env: { UPKIT_ENV_FILE: 'conf/pulse.env' } });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    expect(byEnv.stdout).toContain(`${db().database}: v2.3, up to date`);
    const byDotenv = await runUpkit('bin/upkit', ['status'], { cwd });
    expect(byDotenv.code).toBe(3);
    expect(byDotenv.stderr).toContain('upkit_no_such_database');
    // Node would take --env-file for itself; through the launcher it is upkit's, the same as --dotenv.
    const byEnvFile = await runUpkit('bin/upkit', ['status', '--env-file', 'conf/pulse.env'], { cwd });
    expect(byEnvFile.code, byEnvFile.stderr).toBe(0);
    expect(byEnvFile.stdout).toContain(`${db().database}: v2.3, up to date`);
  }, 240_000);

  it("writes every command to paste in the launcher's form: on the terminal and in the --json report", async () => {
    await asRelease(db(), 'v1.0');
    const cwd = tempDir('upkit-hints-');
    const r = await runUpkit('bin/upkit', ['status', '--json'], { cwd, env: { DATABASE_URL: db().url } });
    expect(r.code, r.stderr).toBe(0);
    const pending = r.json().findings.filter((f) => f.code.startsWith('pending.'));
    expect(pending.length).toBeGreaterThan(0);
    for (const f of pending) expect(f.hint).toBe(`run: ${UPKIT} upgrade --dry-run`);
    expect(`${r.stdout}${r.stderr}${r.logs()}`).not.toContain('npx zx');
    // A refusal's hint too (the configuration is checked before anything is read).
    const bad = await runUpkit('bin/upkit', ['upgrade', '--yes'], {
      cwd,
      env: { DATABASE_URL: db().url, LOCK_TIMEOUT: 'soon' },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`then run: ${UPKIT} preflight`);
  });
});

describe('bin/upkit without node', () => {
  it('says so in one line, exit 2, when no node is on PATH', () => {
    // A PATH with the few programs the launcher itself uses, and no node.
    const bin = tempDir('upkit-nonode-');
    for (const tool of ['dirname', 'readlink']) {
      const found = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(found, path.join(bin, tool));
    }
    const r = spawnSync('/bin/sh', [LAUNCHER, 'upgrade', '--yes'], {
      cwd: tempDir('upkit-cwd-'),
      env: { PATH: bin, HOME: process.env.HOME ?? '' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toBe(
      `✖ upkit needs Node 20.10 or newer, and there is no node on PATH (${bin})\n  → install ` +
        `Node 22 or 24, or put its bin folder on PATH (cron and systemd set a short PATH)\n`,
    );
  });
});

describe('the entry files', () => {
  it("npx zx upgrade.ts --help still works from upkit's own directory", async () => {
    const r = await runNpxZx('upgrade.ts', ['--help']);
    expect(r.stderr).not.toContain('ERR_');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: npx zx upgrade.ts [options]');
  });

  it('each imports the Node version gate first', () => {
    for (const entry of ENTRIES) {
      const first = readFileSync(path.join(ROOT, entry), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('import '));
      expect(first, entry).toBe(`import '${entry.includes('/') ? '..' : '.'}/lib/nodeGate.ts';`);
    }
  });

  it("bin/upkit.js keeps the gate's minimum", () => {
    const text = readFileSync(path.join(ROOT, 'bin/upkit.js'), 'utf8');
    expect(text).toContain(`var MIN_NODE = { major: ${MIN_NODE.major}, minor: ${MIN_NODE.minor} };`);
  });

  // A Node older than the minimum, as the process sees it: the gate must be what answers.
  const OLD = '18.19.1';
  const FAKE = `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'${OLD}'})`;

  it.each(['bin/upkit.js', ...ENTRIES])('%s on an older Node: one line, exit 2', (entry) => {
    const args =
      entry === 'bin/upkit.js'
        ? ['--import', FAKE, path.join(ROOT, entry), '--', 'upgrade', '--yes']
        : [
            '--import',
            FAKE,
            '--import',
            import.meta.resolve('tsx'),
            path.join(ROOT, 'node_modules/zx/build/cli.js'),
            path.join(ROOT, entry),
            '--yes',
          ];
    const r = spawnSync(process.execPath, args, {
      cwd: tempDir('upkit-old-'),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', UPKIT_LOG_DIR: tempDir('upkit-logs-') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toBe(`✖ ${nodeProblem(OLD)}\n`);
    expect(r.stdout).toBe('');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
