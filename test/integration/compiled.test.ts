// The compiled tree (.build/, `npm run build`): bin/upkit runs it while it is current and the
// TypeScript sources as soon as one of them changed, so that an edit is never hidden behind
// older compiled code. Run in a copy of upkit's tracked files (node_modules linked), whose
// sources the test may edit; each run's log file says which modules ran.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyOfUpkit } from '../support/upkitCopy.ts';

const COMPILED = 'modules: compiled (.build/)';
/** On this Node, the sources run through tsx or are stripped by Node itself (22.18+, 24). */
const SOURCES = /modules: TypeScript sources( through tsx|, types stripped by Node)/;

describe('bin/upkit and the compiled tree', () => {
  let copy = '';

  /** Runs the copy's bin/upkit with a clean environment; returns its output and its log files' text. */
  function upkit(args: string[], extra: Record<string, string> = {}) {
    const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-compiled-logs-'));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NO_COLOR: '1',
      UPKIT_LOG_DIR: logDir,
      ...extra,
    };
    const r = spawnSync(path.join(copy, 'bin', 'upkit'), args, {
      cwd: mkdtempSync(path.join(tmpdir(), 'upkit-compiled-cwd-')),
      env,
      encoding: 'utf8',
    });
    const logs = readdirSync(logDir)
      .map((f) => readFileSync(path.join(logDir, f), 'utf8'))
      .join('');
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, logs };
  }

  function build() {
    return spawnSync(process.execPath, [path.join(copy, 'scripts', 'build.mjs')], { cwd: copy, encoding: 'utf8' });
  }

  beforeAll(() => {
    copy = copyOfUpkit('upkit-compiled-', { linkModules: true });
  }, 60_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('without a build, runs the sources', () => {
    expect(existsSync(path.join(copy, '.build'))).toBe(false);
    // status with no configuration: exit 2, after the log file was opened.
    const r = upkit(['status']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.logs).toMatch(SOURCES);
  });

  it('builds, then runs the compiled tree, with the same output as the sources', () => {
    const b = build();
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/^compiled \d+ modules to \.build\/$/m);
    const stamp = JSON.parse(readFileSync(path.join(copy, '.build', 'stamp.json'), 'utf8')) as {
      files: Record<string, { size: number }>;
    };
    expect(Object.keys(stamp.files)).toEqual(
      expect.arrayContaining([
        'lib/commands/launcher.ts',
        'lib/cli.ts',
        'lib/upgrade.ts',
        'lib/config.ts',
        'profiles/pulse.ts',
      ]),
    );
    const r = upkit(['status']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.logs).toContain(COMPILED);
    // What the compiled tree prints is what the sources print.
    for (const args of [
      ['--help'],
      ['--version'],
      ['upgrade', '--help'],
      ['restore', '--help'],
      ['upgrade', '--bogus'],
    ]) {
      const compiled = upkit(args);
      const sources = upkit(args, { UPKIT_COMPILED: '0' });
      const strip = (s: string) => s.replace(/^\S+Z /gm, '').replace(/^log: .*$/gm, 'log: …');
      expect({ code: compiled.code, stdout: compiled.stdout, stderr: strip(compiled.stderr) }, args.join(' ')).toEqual({
        code: sources.code,
        stdout: sources.stdout,
        stderr: strip(sources.stderr),
      });
    }
    // The compiled modules find upkit's own files from the sources' place (import.meta.url).
    expect(upkit(['--version']).stdout).toBe(
      `upkit ${(JSON.parse(readFileSync(path.join(copy, 'package.json'), 'utf8')) as { version: string }).version}\n`,
    );
  });

  it('runs the sources as soon as one of them is edited, and the edit shows', () => {
    const file = path.join(copy, 'lib', 'commands', 'status.ts');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace("summary: 'Release detected,", "summary: 'EDITED Release detected,"));
    const r = upkit(['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}status +EDITED Release detected,/m);
    const s = upkit(['status']);
    expect(s.logs).toMatch(SOURCES);
    expect(s.logs).not.toContain(COMPILED);
    // Built again, the compiled tree is current and has the edit.
    expect(build().status).toBe(0);
    const again = upkit(['status']);
    expect(again.logs).toContain(COMPILED);
    expect(upkit(['--help']).stdout).toMatch(/^ {2}status +EDITED Release detected,/m);
  });

  it('runs the sources when a source only has a new modification time, or is gone', () => {
    expect(build().status).toBe(0);
    expect(upkit(['status']).logs).toContain(COMPILED);
    const file = path.join(copy, 'lib', 'quote.ts');
    const t = statSync(file).mtime;
    utimesSync(file, t, new Date(t.getTime() + 5_000));
    expect(upkit(['status']).logs).toMatch(SOURCES);
    expect(build().status).toBe(0);
    expect(upkit(['status']).logs).toContain(COMPILED);
    // A stamp that names a source no longer there: the sources (which no longer import it) run.
    const stampFile = path.join(copy, '.build', 'stamp.json');
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as { files: Record<string, unknown> };
    stamp.files['lib/removed.ts'] = { size: 1, mtimeMs: 1 };
    writeFileSync(stampFile, JSON.stringify(stamp));
    expect(upkit(['status']).logs).toMatch(SOURCES);
  });

  it('UPKIT_COMPILED=0 runs the sources even when the compiled tree is current', () => {
    expect(build().status).toBe(0);
    expect(upkit(['status']).logs).toContain(COMPILED);
    expect(upkit(['status'], { UPKIT_COMPILED: '0' }).logs).toMatch(SOURCES);
  });

  it('a stamp that cannot be read means the sources', () => {
    expect(build().status).toBe(0);
    writeFileSync(path.join(copy, '.build', 'stamp.json'), '{ not json');
    const r = upkit(['status']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.logs).toMatch(SOURCES);
  });
});
