// Which phase of an upgrade a run had reached, read from its own log file: every line is
// written synchronously with a timestamp, so whatever the log holds happened before a kill.
// Also the seeded PRNG that makes a crash campaign reproducible.

export const PHASES = [
  'before start',
  'start-up',
  'lock',
  'inspect',
  'checks, runs ledger',
  'backup',
  'legacy',
  'baseline',
  'drizzle',
  'seed',
  'verify',
  'finish',
] as const;
export type Phase = (typeof PHASES)[number];

/** The phase a log line starts, or undefined when it changes nothing. */
export function phaseStartedBy(line: string): Phase | undefined {
  const text = line.slice(25); // after "2026-11-24T08:21:27.451Z "
  if (/^debug content: /.test(text)) return 'lock';
  if (/^debug run lock taken/.test(text)) return 'inspect';
  if (/^info {2}plan: /.test(text)) return 'checks, runs ledger';
  if (/^debug recorded in upkit\.runs as run /.test(text)) return 'backup';
  const step = new RegExp(
    String.raw`^\w+ +step (?:rehearsal: )?(legacy|baseline|drizzle|seed ` +
      String.raw`data|verify(?=:))\b.*?: (started|ok|failed|warning|skipped)\b`,
  ).exec(text);
  if (step) {
    const [, name, state] = step;
    if (name === 'verify') return state === 'started' ? 'verify' : 'finish';
    if (state !== 'started') return undefined;
    return name === 'seed data' ? 'seed' : (name as Phase);
  }
  return undefined;
}

export interface PhaseMark {
  phase: Phase;
  /** Epoch ms of the log line that started it. */
  at: number;
}

/** The phases a run went through, in order, with when each began (from the log's timestamps). */
export function phaseMarks(log: string): PhaseMark[] {
  const marks: PhaseMark[] = [];
  for (const line of log.split('\n')) {
    const at = Date.parse(line.slice(0, 24));
    if (Number.isNaN(at)) continue;
    if (marks.length === 0) marks.push({ phase: 'start-up', at });
    const phase = phaseStartedBy(line);
    if (phase && marks.at(-1)!.phase !== phase) marks.push({ phase, at });
  }
  return marks;
}

/** The phase a killed run was in: that of the last line its log holds ("before start" when it wrote nothing). */
export function phaseReached(log: string): Phase {
  return phaseMarks(log).at(-1)?.phase ?? 'before start';
}

export interface PhaseWindow {
  phase: Phase;
  /** ms after the process was spawned. */
  startMs: number;
  endMs: number;
}

/** Windows of an uninterrupted run, relative to its spawn time, from "before start" to its exit. */
export function phaseWindows(log: string, spawnedAt: number, exitedAt: number): PhaseWindow[] {
  const marks = phaseMarks(log);
  const windows: PhaseWindow[] = [];
  let start = 0;
  let phase: Phase = 'before start';
  for (const m of marks) {
    const at = Math.max(start, m.at - spawnedAt);
    windows.push({ phase, startMs: start, endMs: at });
    start = at;
    phase = m.phase;
  }
  windows.push({ phase, startMs: start, endMs: Math.max(start, exitedAt - spawnedAt) });
  // A phase can recur (drizzle, baseline, drizzle): merge by name is wrong, keep each stretch.
  return windows.filter((w) => w.endMs > w.startMs);
}

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The draws of run `run` depend on the seed and the run number only, so one run can be replayed alone. */
export function runPrng(seed: number, run: number): () => number {
  return prng(mix(mix(seed) ^ Math.imul(run + 1, 0x9e3779b1)));
}

/** murmur3's finalizer: nearby inputs (run 1, run 2) give unrelated seeds. */
function mix(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
