// Whether upkit can back the test server up on this machine. pg_dump refuses servers newer
// than itself, so a machine whose newest pg_dump is 15 cannot test backups of PostgreSQL 16:
// tests whose subject is a backup are then skipped with this reason (database.ts backupTests),
// and the version matrix states it.
import { chooseDumper } from '../../../lib/backup/strategy.ts';
import { isUpkitError } from '../../../lib/errors.ts';
import { findBinaries, type PgBinary } from '../../../lib/pgTools.ts';
import type { BackupCoverage } from '../database.ts';
import { HIDE_SYSTEM_PG_ENV, hiddenClientBinDir } from './hidden.ts';

/** Why no pg_dump here can dump a server of `serverMajor`, from the pg_dumps found. */
export function noBackupReason(serverMajor: number, found: ReadonlyArray<Pick<PgBinary, 'major'>>): string {
  const majors = [...new Set(found.map((b) => b.major))].sort((a, b) => a - b);
  if (majors.length === 0) return `no pg_dump on this machine, so PostgreSQL ${serverMajor} cannot be dumped`;
  const which =
    majors.length === 1 ? `pg_dump ${majors[0]}` : `pg_dump ${majors.slice(0, -1).join(', ')} and ${majors.at(-1)}`;
  return `${which} on this machine cannot dump PostgreSQL ${serverMajor} (pg_dump refuses servers newer than itself)`;
}

/** The pg_dump upkit itself would choose for the server (lib/backup/strategy.ts), or why none fits
 * (none while UPKIT_TEST_HIDE_SYSTEM_PG hides the client programs). */
export async function backupCoverage(serverMajor: number): Promise<BackupCoverage> {
  try {
    const dumper = await chooseDumper(
      { pgBinDir: hiddenClientBinDir(), composeFile: undefined, dbService: 'db' },
      serverMajor,
    );
    if (dumper.kind !== 'local') throw new Error(`unexpected ${dumper.kind} pg_dump without COMPOSE_FILE`);
    const { path, version, major } = dumper.pgDump;
    return { testable: true, pgDump: { path, version, major } };
  } catch (error) {
    if (!isUpkitError(error) || error.code !== 'backup.no_pg_dump') throw error;
    const hidden = hiddenClientBinDir() ? ` (${HIDE_SYSTEM_PG_ENV} hides this machine's pg_dump)` : '';
    return {
      testable: false,
      reason: `${noBackupReason(serverMajor, await findBinaries('pg_dump', hiddenClientBinDir()))}${hidden}`,
    };
  }
}
