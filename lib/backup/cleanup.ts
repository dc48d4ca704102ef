// Work that must finish even when the operator presses Ctrl-C again: dropping the database a
// restore created, putting the live database's connections back on. While any is held, a
// second SIGINT or SIGTERM does not end the process at once (lib/cli.ts asks exitHeld()).
let holds = 0;

/** Holds the process until the returned function is called (once). */
export function holdExit(): () => void {
  holds += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds -= 1;
  };
}

export function exitHeld(): boolean {
  return holds > 0;
}

/** Runs the promise to its end under a hold. */
export async function untilDone<T>(work: Promise<T>): Promise<T> {
  const release = holdExit();
  try {
    return await work;
  } finally {
    release();
  }
}
