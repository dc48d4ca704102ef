// lib/process.ts with real children (sh): exit code, signal, the stderr tail's bound, stdin
// and stdout files, lines as they arrive, stopping on abort, timeout and upkit's own exit,
// and the refusal of a password in argv.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { endChildren } from '../../lib/children.ts';
import { isUpkitError } from '../../lib/errors.ts';
import { carriesSecret, lastLines, runProcess } from '../../lib/process.ts';
import { until } from '../support/wait.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'upkit-process-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sh = (script: string, options: Parameters<typeof runProcess>[2] = {}) =>
  runProcess('sh', ['-c', script], options);

/** Whether a process is still running (not yet reaped counts as ended too). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('runProcess', () => {
  it('resolves with the exit code, stdout and stderr of a program that fails', async () => {
    const r = await sh('echo out; echo err >&2; exit 7');
    expect(r).toMatchObject({ code: 7, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
  });

  it('reports the signal that ended the program', async () => {
    const r = await sh('kill -USR1 $$; sleep 5');
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGUSR1');
  });

  it('keeps a bounded tail of stderr that starts at a line', async () => {
    const r = await sh('i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done', {
      stderrTailBytes: 100,
    });
    expect(r.stderr.length).toBeLessThanOrEqual(100);
    expect(r.stderr.startsWith('line ')).toBe(true);
    expect(lastLines(r.stderr, 1)).toEqual(['line 1999']);
  });

  it('hands each non-blank line to onLine as it arrives, the unfinished last one at the end', async () => {
    const seen: string[] = [];
    await sh("printf 'a\\n\\nb\\r\\nc' >&2; printf 'd\\n'", { onLine: (l, s) => seen.push(`${s}:${l}`) });
    expect(seen.sort()).toEqual(['stderr:a', 'stderr:b', 'stderr:c', 'stdout:d']);
  });

  it('streams stdin from a file and writes stdout to a private file', async () => {
    const input = path.join(dir, 'in');
    const output = path.join(dir, 'out');
    writeFileSync(input, 'hello\nworld\n');
    const r = await runProcess('tr', ['a-z', 'A-Z'], { stdinFile: input, stdout: { file: output } });
    expect(r.code).toBe(0);
    expect(readFileSync(output, 'utf8')).toBe('HELLO\nWORLD\n');
    expect(statSync(output).mode & 0o777).toBe(0o600);
  });

  it('stops the program when its stdout file cannot be written, and says why at the end of stderr', async () => {
    const r = await runProcess('sh', ['-c', 'while :; do echo data; sleep 0.05; done'], {
      stdout: { file: path.join(dir, 'missing', 'out') },
    });
    expect(r.code).not.toBe(0);
    expect(lastLines(r.stderr, 1)[0]).toMatch(/ENOENT: no such file or directory/);
  });

  it('rejects when the program cannot start', async () => {
    await expect(runProcess(path.join(dir, 'no-such-program'), [])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stops the program on abort: rejects with the reason, or settles with aborted', async () => {
    const stop = new AbortController();
    const pending = sh('echo started; exec sleep 30', {
      signal: stop.signal,
      onLine: () => stop.abort(new Error('stopped by the test')),
    });
    await expect(pending).rejects.toThrow('stopped by the test');

    const settle = new AbortController();
    const r = await sh('echo started; exec sleep 30', {
      signal: settle.signal,
      abort: 'settle',
      onLine: () => settle.abort(),
    });
    expect(r).toMatchObject({ aborted: true, signal: 'SIGTERM', code: null });
  });

  it('kills a program that ignores SIGTERM once the grace period ends', async () => {
    const r = await sh("trap '' TERM; echo ready; while :; do sleep 0.05; done", {
      timeoutMs: 200,
      killGraceMs: 100,
    });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
  });

  it('ends a running child when upkit exits (endChildren)', async () => {
    let pid = 0;
    const pending = sh('echo $$; exec sleep 30', { onLine: (l) => (pid = Number(l)) });
    await until(() => pid > 0, { what: 'the child to print its pid' });
    expect(alive(pid)).toBe(true);
    endChildren();
    const r = await pending;
    expect(r.signal).toBe('SIGTERM');
    expect(alive(pid)).toBe(false);
  });

  it('refuses an argument that carries a password, before anything starts', async () => {
    const marker = path.join(dir, 'ran');
    const refused = await runProcess('touch', [marker, 'postgres://app:s3cret@db/app']).catch((e: unknown) => e);
    expect(isUpkitError(refused) && refused.code).toBe('internal.secret_in_argv');
    expect(String((refused as Error).message)).not.toContain('s3cret');
    expect(() => statSync(marker)).toThrow();
  });
});

describe('carriesSecret', () => {
  it.each([
    ['postgres://app:s3cret@db:5432/app', true],
    ['host=db password=s3cret dbname=app', true],
    ['PGPASSWORD=s3cret', true],
    ['POSTGRES_PASSWORD=x', true],
    ['PGPASSWORD', false],
    ['--no-password', false],
    ['--dbname=', false],
    ['postgres://app@db/app', false],
    ['/usr/lib/postgresql/15/bin/pg_dump', false],
  ])('%s → %s', (arg, expected) => {
    expect(carriesSecret(arg)).toBe(expected);
  });
});
