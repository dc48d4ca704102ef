// A phase's mark follows what it found, and the report tells apart what a run did before it
// ended: refused before any change, applied then found problems, found problems read-only.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.ts';
import { ReportBuilder } from '../../lib/report.ts';
import { DURATION } from '../support/logLines.ts';

function capture() {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const log = createLogger({
    command: 'test',
    stream,
    interactive: false,
    color: false,
    logDir: mkdtempSync(path.join(tmpdir(), 'upkit-statuses-')),
  });
  return { log, text: () => text };
}

describe('a step judged by its findings', () => {
  it(
    'ends ✖ with an error, ⚠ with only warnings, ✔ with neither, ' +
      'and a skipped step with nothing found stays skipped',
    async () => {
      const { log, text } = capture();
      const error = { severity: 'error' };
      const warning = { severity: 'warning' };
      const info = { severity: 'info' };
      await log.step('verify', async (s) =>
        s.judge([info, error, warning], '1 error, 1 warning in schema and ledgers'),
      );
      await log.step('ledgers', async (s) => s.judge([warning, info], '1 warning'));
      await log.step('schema', async (s) => s.judge([info], 'as expected'));
      await log.step('runtime', async (s) => {
        s.skip('not configured');
        s.judge([], 'not configured');
      });
      log.close();
      expect(log.steps.map((s) => [s.name, s.status])).toEqual([
        ['verify', 'failed'],
        ['ledgers', 'warning'],
        ['schema', 'ok'],
        ['runtime', 'skipped'],
      ]);
      const lines = text()
        .split('\n')
        .map((l) => l.replace(/^\S+ /, '').replace(new RegExp(String.raw` \(${DURATION}\)$`), ''));
      expect(lines.slice(0, 4)).toEqual([
        '✖ verify  1 error, 1 warning in schema and ledgers',
        '⚠ ledgers  1 warning',
        '✔ schema  as expected',
        '– runtime  not configured',
      ]);
    },
  );
});

describe('the report: status per exit code, outcome by what changed', () => {
  const build = (exit: number, setup: (r: ReportBuilder) => void = () => {}) => {
    const r = new ReportBuilder('upgrade', '0.0.0');
    setup(r);
    return r.build(exit, [], undefined);
  };
  const applied3 = (r: ReportBuilder) => {
    for (const name of ['0001_a', '0002_b', '0003_c']) r.applied.push({ kind: 'drizzle', name, durationMs: 1 });
    r.finding('error', 'schema.column_missing', 'column users.name is missing');
  };

  it.each([
    [0, 'ok', 'ok'],
    [1, 'failed', 'failed'],
    [2, 'usage', 'usage'],
    [3, 'refused', 'refused'],
    [4, 'problems', 'problems'],
    [5, 'locked', 'locked'],
    [6, 'unhealthy', 'unhealthy'],
    [130, 'interrupted', 'interrupted'],
  ])('exit %i without a change: status %s, outcome %s, nothing changed', (exit, status, outcome) => {
    expect(build(exit)).toMatchObject({ exitCode: exit, status, outcome, changes: { made: false, steps: 0 } });
  });

  it('exit 4 after steps were applied says so, with how many', () => {
    expect(build(4, applied3)).toMatchObject({
      status: 'problems',
      outcome: 'applied-then-problems',
      changes: { made: true, steps: 3 },
      summary: 'applied 3 steps, then verification found 1 problem',
    });
  });

  it('exit 4 of a read-only verify is not a refusal and changed nothing', () => {
    const r = build(4, (b) => b.finding('error', 'schema.column_missing', 'x'));
    expect(r).toMatchObject({
      status: 'problems',
      outcome: 'problems',
      changes: { made: false, steps: 0 },
      summary: 'verification found 1 problem; nothing was changed',
    });
  });

  it('exit 3 is refused before any change; exit 6 and 130 after changes say so', () => {
    expect(build(3).summary).toBe('refused before any change; nothing was changed');
    expect(build(6, applied3)).toMatchObject({
      outcome: 'applied-then-unhealthy',
      summary: 'applied 3 steps, then the health checks failed',
    });
    expect(build(130, (b) => (b.changed = true))).toMatchObject({
      outcome: 'interrupted-after-changes',
      changes: { made: true, steps: 0 },
    });
    expect(build(1, applied3)).toMatchObject({
      status: 'failed',
      outcome: 'failed',
      changes: { made: true, steps: 3 },
    });
  });
});
