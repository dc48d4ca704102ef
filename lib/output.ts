// Output that cannot be written (a pipe whose reader has gone, a terminal that hung up) never
// stops a run: Node raises EPIPE or EIO as an 'error' event that would end the process
// (SIGPIPE itself is ignored by Node), so the stream is marked closed instead, nothing more
// is written to it, and whoever watches it is told once.

/** Streams found closed (EPIPE, EIO, destroyed), and the error code that closed each. */
const closedStreams = new WeakMap<NodeJS.WritableStream, string>();
const watchedStreams = new WeakMap<NodeJS.WritableStream, Array<(code: string) => void>>();

function markClosed(stream: NodeJS.WritableStream, err: unknown): void {
  if (closedStreams.has(stream)) return;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'closed';
  closedStreams.set(stream, code);
  for (const listener of watchedStreams.get(stream) ?? []) listener(code);
}

/**
 * Keeps a write error on `stream` from ending the process (Node raises an unhandled 'error'
 * event for EPIPE), and calls `onClosed` once with the error code when the stream closes.
 */
export function watchOutput(stream: NodeJS.WritableStream, onClosed?: (code: string) => void): void {
  let listeners = watchedStreams.get(stream);
  if (!listeners) {
    listeners = [];
    watchedStreams.set(stream, listeners);
    // A bare writer (an object with only write(), as a caller may pass) has no events to watch.
    if (typeof stream.on === 'function') stream.on('error', (err: unknown) => markClosed(stream, err));
  }
  if (onClosed) {
    const code = closedStreams.get(stream);
    if (code !== undefined) onClosed(code);
    else listeners.push(onClosed);
  }
}

/** Whether nothing can be written to `stream` any more. */
export function outputClosed(stream: NodeJS.WritableStream): boolean {
  const s = stream as NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean };
  if (!closedStreams.has(stream) && (s.destroyed === true || s.writableEnded === true))
    markClosed(stream, { code: 'closed' });
  return closedStreams.has(stream);
}

/** Writes unless the stream is closed; a write that fails marks it closed instead of throwing. */
export function writeOutput(stream: NodeJS.WritableStream, text: string): boolean {
  watchOutput(stream);
  if (outputClosed(stream)) return false;
  try {
    stream.write(text);
    return true;
  } catch (err) {
    markClosed(stream, err);
    return false;
  }
}

/** `stdout`, `stderr`, or `output` for any other stream. */
export function streamName(stream: NodeJS.WritableStream): string {
  return stream === process.stdout ? 'stdout' : stream === process.stderr ? 'stderr' : 'output';
}
