// Limits that command specs name in their help text, kept apart from the modules that enforce
// them (lib/config.ts, lib/db.ts) so that a command's --help loads neither.

/** The largest value PostgreSQL's timeout settings and Node's timers accept (2^31 - 1). */
export const MAX_INT32 = 2147483647;

/** The largest --wait-for-lock: a start-up that waits longer than a day is stuck, not slow. */
export const MAX_LOCK_WAIT_SECONDS = 86_400;
