// Patterns for the lines upkit prints, shared by tests that match them.

/**
 * A step's duration as formatDuration (lib/log.ts) writes it: `850 ms`, `1.2 s`, `2 min 5 s`.
 * Tests match any of the three: how long a step took depends on the machine, never on upkit.
 */
export const DURATION = String.raw`(?:\d+ ms|\d+\.\d s|\d+ min \d+ s)`;
