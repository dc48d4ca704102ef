// The one question upkit asks before it changes something: "type yes" (or the name of the
// database it will replace) on the terminal, the question on stderr so that stdout stays the
// command's own output. Without a terminal it does not wait for an answer that cannot come:
// the caller's refusal (with the hint to add --yes) is thrown. Ctrl-C while it waits is the
// stop signal, as anywhere else in the run.
import { createInterface } from 'node:readline/promises';
import { UpkitError } from './errors.ts';

export interface ConfirmOptions {
  /** The answer that goes on: `yes` in any case unless given; a given answer (a database name) is compared exactly. */
  expected?: string;
  /** The run's stop signal: the question ends when it aborts. */
  signal?: AbortSignal;
  /** Thrown, without asking, when stdin is not a terminal. */
  noTerminal?: () => Error;
  /** Where to ask (a terminal unless given: tests pass streams). */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

export interface Confirmation {
  confirmed: boolean;
  /** What was typed, trimmed. */
  answer: string;
}

/** What a question ended by Ctrl-C or the stop signal throws. */
export function interruptedAtQuestion(): UpkitError {
  return new UpkitError({
    code: 'interrupted',
    exit: 'interrupted',
    message: 'interrupted at the confirmation; nothing was changed',
  });
}

/** Whether upkit can ask a question here (stdin is a terminal). */
export function canAsk(): boolean {
  return process.stdin.isTTY === true;
}

/**
 * Asks `question` and reads one line. Rejects with interruptedAtQuestion() when the stop
 * signal aborts or Ctrl-C is pressed while it waits (Ctrl-C is sent on to the process as
 * SIGINT, so that the run stops as on any other Ctrl-C), and with `noTerminal()` when there
 * is no terminal to ask on.
 */
export async function confirm(question: string, options: ConfirmOptions = {}): Promise<Confirmation> {
  const input = options.input ?? process.stdin;
  if (!options.input && options.noTerminal && !canAsk()) throw options.noTerminal();
  if (options.signal?.aborted) throw interruptedAtQuestion();
  const rl = createInterface({ input, output: options.output ?? process.stderr });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // On a terminal in raw mode Ctrl-C reaches readline, not the process.
  rl.on('SIGINT', () => {
    stop.abort();
    process.emit('SIGINT', 'SIGINT');
  });
  let answer: string;
  try {
    answer = (await rl.question(question, { signal: stop.signal })).trim();
  } catch {
    throw interruptedAtQuestion();
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    rl.close();
  }
  const confirmed = options.expected === undefined ? answer.toLowerCase() === 'yes' : answer === options.expected;
  return { confirmed, answer };
}
