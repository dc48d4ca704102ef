// The "migrated" state: is the database at the release the platform expects? By default:
// the release detected from the catalog (lib/profile.ts) is the profile's latest one (Pulse:
// its latest release; another app: its newest journal entry), and drizzle's ledger holds every journal
// entry, none edited since and none unknown to these files. Read-only.
import type { Config } from '../config.ts';
import { withClient, withTransaction } from '../db.ts';
import { isUpkitError } from '../errors.ts';
import { readMigrations, type DrizzleMigration } from '../drizzle/journal.ts';
import { readDrizzleLedger, type DrizzleLedgerRow } from '../ledger.ts';
import { compareLedger } from '../plan.ts';
import { detectInstall } from '../profile.ts';
import type { Profile } from '../profileTypes.ts';
import type { Detection } from '../release.ts';

export interface MigrationState {
  migrated: boolean;
  /** Detected release (null: empty database, or it could not be read). */
  release: string | null;
  expected: string | null;
  /** Journal entries not in drizzle's ledger. */
  pending: string[];
  /** One line for a person: `at v2.3, as expected` or why not. */
  detail: string;
}

/** What the caller passes to decide "migrated"; the signal aborts on Ctrl-C. */
export type DatabaseCheck = (signal: AbortSignal | undefined) => Promise<MigrationState>;

function list(names: readonly string[], max = 4): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, … (${names.length} in all)`;
}

/** Pure: the rule above. */
export function migrationState(
  detection: Detection,
  migrations: readonly DrizzleMigration[],
  ledger: readonly DrizzleLedgerRow[] | null,
  expected: string | null,
): MigrationState {
  const { pending, edited, unknown } = compareLedger(migrations, ledger ?? []);
  const problems: string[] = [];
  if (detection.release !== expected)
    problems.push(`at ${detection.release ?? 'no release (empty)'}, expected ${expected ?? 'none'}`);
  if (pending.length) problems.push(`drizzle entries pending: ${list(pending.map((m) => m.tag))}`);
  if (edited.length) problems.push(`drizzle entries edited after they were applied: ${list(edited.map((m) => m.tag))}`);
  if (unknown.length)
    problems.push(
      `${unknown.length} drizzle ledger row${unknown.length === 1 ? '' : 's'}` +
        ` these files do not know (the database is newer than this upkit)`,
    );
  return {
    migrated: problems.length === 0,
    release: detection.release,
    expected,
    pending: pending.map((m) => m.tag),
    detail: problems.length === 0 ? `at ${expected}, nothing pending` : problems.join('; '),
  };
}

export type DatabaseCheckConfig = Pick<Config, 'db' | 'ssl' | 'sslCa' | 'connectTimeoutMs' | 'drizzleDir'>;

/** The default check: connects with the application's own settings (config.db). */
export function defaultDatabaseCheck(
  config: DatabaseCheckConfig,
  profile: Profile,
  expectedRelease?: string,
): DatabaseCheck {
  const migrations = readMigrations(profile.drizzleDir);
  const expected = expectedRelease ?? profile.latestRelease;
  return async (signal) => {
    try {
      return await withClient(
        config.db,
        config,
        (c) =>
          withTransaction(
            c,
            async () => {
              const detection = await detectInstall(c, profile);
              if (signal?.aborted) throw signal.reason;
              return migrationState(detection, migrations, await readDrizzleLedger(c), expected);
            },
            { readOnly: true },
          ),
        { applicationName: 'upkit health' },
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      // Cannot connect (yet): not migrated as far as anyone can tell; polled again.
      const why = isUpkitError(err) ? err.message : err instanceof Error ? err.message : String(err);
      return { migrated: false, release: null, expected, pending: [], detail: `cannot check: ${why}` };
    }
  };
}
