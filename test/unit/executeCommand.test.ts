// executeCommand runs commands inside a process that goes on (the library, a run over targets,
// the tests' in-process runs): nothing of one run may stay behind for the next.
import { getEventListeners } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type CommandSpec, executeCommand, STOP_SIGNALS } from '../../lib/cli.ts';
import { usageError } from '../../lib/errors.ts';

const stream = Object.assign(new Writable({ write: (_c, _e, done) => done() }), {
  isTTY: false,
}) as unknown as NodeJS.WriteStream;

const spec: CommandSpec = {
  name: 'demo-cmd',
  invocation: 'npx zx scripts/x.ts',
  summary: 'Does x.',
  options: { fail: { type: 'boolean', description: 'refuse' } },
  config: false,
  run: async ({ values, signal }) => {
    if (values.fail) throw usageError('refused as asked', 'run: npx zx scripts/x.ts');
    return signal.aborted ? 130 : 0;
  },
};

describe('executeCommand in a process that goes on', () => {
  it('stops following the caller’s signal once a run ends, whether it succeeded or failed', async () => {
    const caller = new AbortController();
    for (let i = 0; i < 12; i++) {
      const r = await executeCommand(spec, i % 2 ? ['--fail'] : [], { logDir: false, stream, signal: caller.signal });
      expect(r.exitCode).toBe(i % 2 ? 2 : 0);
    }
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('installs no signal or exit handler and leaves process.exitCode alone', async () => {
    const before = [...STOP_SIGNALS, 'exit'].map((e) => process.listenerCount(e));
    const exitCode = process.exitCode;
    const r = await executeCommand(spec, ['--fail'], { logDir: false, stream });
    expect(r.exitCode).toBe(2);
    expect([...STOP_SIGNALS, 'exit'].map((e) => process.listenerCount(e))).toEqual(before);
    expect(process.exitCode).toBe(exitCode);
  });

  it('still stops a run whose caller aborts while it runs', async () => {
    const caller = new AbortController();
    const slow: CommandSpec = {
      ...spec,
      run: ({ signal }) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => resolve(130), { once: true });
          caller.abort(new Error('stop'));
        }),
    };
    const r = await executeCommand(slow, [], { logDir: false, stream, signal: caller.signal });
    expect(r.exitCode).toBe(130);
  });
});
