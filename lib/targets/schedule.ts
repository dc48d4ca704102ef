// Runs targets at most `concurrency` at a time, in the file's order, each only once the
// targets it comes `after` have finished OK. A target whose `after` failed or was skipped is
// skipped with the reason; with failFast no target starts after a failure; a stop (signal)
// starts nothing more. What one target returns never changes another's result.

export interface Schedulable {
  name: string;
  after: readonly string[];
}

export type Outcome<R> =
  | { name: string; ran: true; exitCode: number; result: R; startedAt: Date; finishedAt: Date }
  | { name: string; ran: false; reason: string };

export interface ScheduleOptions {
  concurrency: number;
  failFast: boolean;
  signal?: AbortSignal;
}

export async function schedule<T extends Schedulable, R>(
  targets: readonly T[],
  options: ScheduleOptions,
  run: (target: T) => Promise<{ exitCode: number; result: R }>,
  /** Targets already decided (a plan that failed): not run again, but their dependents see them. */
  decided: ReadonlyMap<string, Outcome<R>> = new Map(),
): Promise<Array<Outcome<R>>> {
  const outcomes = new Map<string, Outcome<R>>(decided);
  const selected = new Set(targets.map((t) => t.name));
  const waiting = targets.filter((t) => !decided.has(t.name));
  let running = 0;
  let firstFailure = [...decided.values()].find((o) => o.ran && o.exitCode !== 0)?.name;
  return new Promise((resolve, reject) => {
    const finishIfDone = () => {
      if (running === 0 && waiting.length === 0) resolve(targets.map((t) => outcomes.get(t.name)!));
    };
    const pump = () => {
      // Decided again after every finish: skips cascade to the targets that come after them.
      for (let changed = true; changed; ) {
        changed = false;
        for (const t of [...waiting]) {
          const deps = t.after.filter((a) => selected.has(a)).map((a) => outcomes.get(a));
          const failed = deps.find((o) => o?.ran && o.exitCode !== 0);
          const skipped = deps.find((o) => o && !o.ran);
          // The first cause wins: a dependency that failed, then the stop, then --fail-fast.
          let reason: string | undefined;
          if (failed?.ran) reason = `after ${failed.name}, which ended with exit ${failed.exitCode}`;
          else if (options.signal?.aborted) reason = 'not started: interrupted';
          else if (options.failFast && firstFailure !== undefined)
            reason = `not started: --fail-fast after ${firstFailure} failed`;
          else if (skipped) reason = `after ${skipped.name}, which was skipped`;
          if (reason === undefined) continue;
          outcomes.set(t.name, { name: t.name, ran: false, reason });
          waiting.splice(waiting.indexOf(t), 1);
          changed = true;
        }
      }
      for (const t of [...waiting]) {
        if (running >= options.concurrency) break;
        const ready = t.after.every((a) => !selected.has(a) || outcomes.get(a)?.ran);
        if (!ready) continue;
        waiting.splice(waiting.indexOf(t), 1);
        running += 1;
        const startedAt = new Date();
        run(t).then(
          ({ exitCode, result }) => {
            running -= 1;
            outcomes.set(t.name, { name: t.name, ran: true, exitCode, result, startedAt, finishedAt: new Date() });
            if (exitCode !== 0 && firstFailure === undefined) firstFailure = t.name;
            pump();
          },
          (err: unknown) => reject(err),
        );
      }
      finishIfDone();
    };
    options.signal?.addEventListener('abort', () => pump(), { once: true });
    pump();
  });
}
