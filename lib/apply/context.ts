import type { Client } from 'pg';
import type { Config } from '../config.ts';
import type { Content } from '../content.ts';
import type { Logger } from '../log.ts';
import type { AppliedEntry } from '../report.ts';
import type { SessionSettings } from './session.ts';

/** What every step of apply() works with. */
export interface ApplyContext {
  /** The migration session: configured timeouts, never the lock's connection. */
  client: Client;
  config: Config;
  content: Content;
  log: Logger;
  runId: string;
  settings: SessionSettings;
  signal?: AbortSignal;
  /** Filled as entries are applied, in order. */
  applied: AppliedEntry[];
  /** Prefix of the step lines, to tell a rehearsal's steps from the real ones. */
  label?: string;
  /** The step in progress (as the plan describes it), said when a run is interrupted. */
  current?: string;
  /** Where the database stands, said when a run stops part-way. */
  stands: { release: string | null; lastStep: string | null; changed: boolean };
}

/** The engine's steps run in lib/db.ts's transaction helper, under the name they have always used. */
export { withTransaction as inTransaction } from '../db.ts';
