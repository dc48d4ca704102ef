// lib/prompt.ts over streams that stand for a terminal: the answers that go on, Ctrl-C and
// the stop signal while it waits, and the refusal without a terminal.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isUpkitError, usageError } from '../../lib/errors.ts';
import { confirm } from '../../lib/prompt.ts';

function terminal() {
  const input = new PassThrough();
  const output = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
  let shown = '';
  output.on('data', (d: Buffer) => (shown += d.toString()));
  /** Types `text` once the question has been written. */
  const type = (text: string) => setImmediate(() => input.write(text));
  return { input, output, type, shown: () => shown };
}

const interrupted = (err: unknown) =>
  isUpkitError(err) &&
  err.code === 'interrupted' &&
  err.exit === 'interrupted' &&
  /nothing was changed/.test(err.message);

const onSigint: Array<() => void> = [];
afterEach(() => {
  for (const off of onSigint.splice(0)) off();
});

describe('confirm', () => {
  it('goes on at yes in any case, with spaces around it, and shows the question', async () => {
    const t = terminal();
    t.type('  YeS \r');
    const r = await confirm('Install Pulse? Type yes to go on: ', { input: t.input, output: t.output });
    expect(r).toEqual({ confirmed: true, answer: 'YeS' });
    expect(t.shown()).toContain('Install Pulse? Type yes to go on: ');
  });

  it('does not go on at any other answer', async () => {
    const t = terminal();
    t.type('y\r');
    expect(await confirm('Go? ', { input: t.input, output: t.output })).toEqual({ confirmed: false, answer: 'y' });
  });

  it('compares an expected name exactly', async () => {
    const t = terminal();
    t.type('Pulse\r');
    const r = await confirm('Type the database name (pulse) to go on: ', {
      expected: 'pulse',
      input: t.input,
      output: t.output,
    });
    expect(r).toEqual({ confirmed: false, answer: 'Pulse' });
    const again = terminal();
    again.type('pulse\r');
    expect(
      (await confirm('Type the database name (pulse) to go on: ', { expected: 'pulse', ...again })).confirmed,
    ).toBe(true);
  });

  it('ends as interrupted when the stop signal aborts while it waits', async () => {
    const t = terminal();
    const stop = new AbortController();
    const pending = confirm('Go? ', { input: t.input, output: t.output, signal: stop.signal });
    setImmediate(() => stop.abort());
    await expect(pending.catch((e: unknown) => interrupted(e))).resolves.toBe(true);
  });

  it('does not ask once the run is stopped', async () => {
    const t = terminal();
    const stop = new AbortController();
    stop.abort();
    await expect(confirm('Go? ', { ...t, signal: stop.signal }).catch((e: unknown) => interrupted(e))).resolves.toBe(
      true,
    );
    expect(t.shown()).toBe('');
  });

  it('sends Ctrl-C on as SIGINT, the stop signal, and ends as interrupted', async () => {
    const t = terminal();
    let sigints = 0;
    const count = () => (sigints += 1);
    process.on('SIGINT', count);
    onSigint.push(() => process.off('SIGINT', count));
    t.type('\u0003');
    await expect(
      confirm('Go? ', { input: t.input, output: t.output }).catch((e: unknown) => interrupted(e)),
    ).resolves.toBe(true);
    expect(sigints).toBe(1);
  });

  it('throws the caller refusal without asking when stdin is not a terminal', async () => {
    const tty = process.stdin.isTTY;
    Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true });
    try {
      const err = await confirm('Go? ', {
        noTerminal: () => usageError('mark would record 0001, and there is no terminal to confirm it', 'add --yes'),
      }).catch((e: unknown) => e);
      expect(isUpkitError(err) && err.code).toBe('usage');
      expect((err as Error).message).toContain('no terminal to confirm it');
    } finally {
      Object.defineProperty(process.stdin, 'isTTY', { value: tty, configurable: true });
    }
  });
});
