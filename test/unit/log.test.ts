import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { renderError } from '../../lib/cli.ts';
import { UpkitError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { outputClosed, watchOutput } from '../../lib/output.ts';
import { clearSecrets, registerSecret } from '../../lib/redact.ts';
import { ReportBuilder } from '../../lib/report.ts';

const SECRET = 'Log-Sentinel-42';

function capture(interactive: boolean) {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-logtest-'));
  // A clock that stands still: a step's duration is what the logger measured, whatever the machine's load.
  const log = createLogger({
    command: 'test',
    stream,
    interactive,
    color: false,
    logDir,
    now: () => new Date('2026-01-02T03:04:05.000Z'),
    clock: () => 1000,
  });
  return { log, logDir, text: () => text, file: () => readFileSync(log.logFile!, 'utf8') };
}

afterEach(() => clearSecrets());

describe('logger', () => {
  it.each([false, true])('redacts every path to the screen and the log file (interactive: %s)', async (interactive) => {
    registerSecret(SECRET);
    const { log, text, file } = capture(interactive);
    log.info(`info ${SECRET}`);
    log.warn(`warn ${SECRET}`);
    log.debug(`debug ${SECRET}`);
    await log.step(`step ${SECRET}`, async (s) => {
      s.progress(`progress ${SECRET}`);
      s.detail(`detail ${SECRET}`);
    });
    await expect(log.step('failing', async () => Promise.reject(new Error(`boom ${SECRET}`)))).rejects.toThrow();
    renderError(
      log,
      new UpkitError({
        code: 'x',
        exit: 'refused',
        message: `message ${SECRET}`,
        hint: `hint ${SECRET}`,
        details: [`detail ${SECRET}`],
      }),
    );
    renderError(log, new Error(`unexpected ${SECRET}`));
    const report = new ReportBuilder('test', '0.0.0');
    report.finding('error', 'x', `finding ${SECRET}`, `hint ${SECRET}`);
    const json = JSON.stringify(report.build(3, log.steps, log.logFile));
    log.close();
    expect(file()).toContain('debug ***');
    expect(file()).toContain('unexpected ***');
    for (const out of [text(), file(), json]) {
      expect(out).not.toContain(SECRET);
      expect(out).toContain('***');
    }
  });

  it(
    'writes plain timestamped lines without a terminal, ' + 'and the log file with mode 0600 in a 0700 directory',
    async () => {
      const { log, logDir, text } = capture(false);
      await log.step('backup', async (s) => s.detail('12 MB'));
      log.error('it broke');
      log.close();
      expect(text()).toBe('2026-01-02T03:04:05.000Z ✔ backup  12 MB (0 ms)\n2026-01-02T03:04:05.000Z ✖ it broke\n');
      expect(statSync(logDir).mode & 0o777).toBe(0o700);
      const files = readdirSync(logDir);
      expect(files).toEqual([expect.stringMatching(/^test-20260102T030405Z-\d+\.log$/)]);
      expect(statSync(path.join(logDir, files[0]!)).mode & 0o777).toBe(0o600);
    },
  );

  it('records each step with its status for the report', async () => {
    const { log } = capture(false);
    await log.step('a', async () => {});
    await log.step('b', async (s) => s.skip('not configured'));
    await log.step('c', async () => Promise.reject(new Error('no'))).catch(() => {});
    log.close();
    expect(log.steps.map((s) => [s.name, s.status, s.detail])).toEqual([
      ['a', 'ok', ''],
      ['b', 'skipped', 'not configured'],
      ['c', 'failed', 'no'],
    ]);
  });

  it.each([false, true])(
    'goes on into the log file when its stream fails with EPIPE (interactive: %s)',
    async (interactive) => {
      const closed: string[] = [];
      const target = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
      const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-logtest-'));
      const broken = createLogger({ command: 'test', stream: target, interactive, color: false, logDir });
      watchOutput(target, (code) => closed.push(code));
      target.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      await new Promise((r) => setImmediate(r));
      expect(outputClosed(target)).toBe(true);
      expect(closed).toEqual(['EPIPE']);
      broken.info('after the pipe closed');
      await broken.step('a step', async (s) => s.progress('half way'));
      broken.close();
      const written = readFileSync(broken.logFile!, 'utf8');
      expect(written).toContain('after the pipe closed');
      expect(written).toMatch(/step a step: ok/);
    },
  );
});
