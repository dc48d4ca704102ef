// Which of pg_dump's formats a backup takes, from the database's shape. pg_dump spends its
// time compressing each table's rows, one table per job: with parallel jobs (directory
// format, `-j N`) the dump lasts about as long as its largest table, or as the whole divided
// by the jobs, whichever is longer. So jobs pay only where at least two tables are large: one
// dominant table, or a small database, takes a single custom-format file, where the folder's
// extra files and extra connections would buy nothing.
import { availableParallelism } from 'node:os';
import type { ArchiveFormat } from './archive.ts';
import { formatBytes } from './space.ts';

/**
 * Internal (tests and measurements): the size from which a table counts as large, in bytes.
 * The default is the size at which, on a 2-core machine, a second job saves more than the
 * folder's fixed cost (docs/commands/backup.md gives the measurement).
 */
export const LARGE_TABLE_ENV = 'UPKIT_BACKUP_LARGE_TABLE_BYTES';
export const LARGE_TABLE_BYTES = 64 * 1024 * 1024;

export interface FormatChoice {
  format: ArchiveFormat;
  /** pg_dump's --jobs (1 for the custom format). */
  jobs: number;
  /** Why, for the output: one clause. */
  why: string;
}

export interface SizedTable {
  name: string;
  /** pg_table_size: the rows' bytes on disk (heap and TOAST), without indexes. */
  bytes: number;
}

export function largeTableBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LARGE_TABLE_ENV];
  if (raw === undefined || raw === '') return LARGE_TABLE_BYTES;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : LARGE_TABLE_BYTES;
}

export function chooseFormat(
  tables: readonly SizedTable[],
  options: { localPgDump: boolean; cores?: number; largeBytes?: number },
): FormatChoice {
  const large = options.largeBytes ?? largeTableBytes();
  const cores = options.cores ?? availableParallelism();
  const total = tables.reduce((s, t) => s + t.bytes, 0);
  const big = tables.filter((t) => t.bytes >= large).sort((a, b) => b.bytes - a.bytes);
  const jobs = Math.min(cores, big.length);
  const shape =
    `${
      big.length === 0
        ? 'no table'
        : big.length === 1
          ? `one table (${big[0]!.name}, ${formatBytes(big[0]!.bytes)})`
          : `${big.length} tables`
    }` + ` of ${formatBytes(large)} or more, ${formatBytes(total)} in all`;
  if (jobs < 2) {
    const reason = big.length >= 2 ? `${cores} core` : shape;
    return { format: 'custom', jobs: 1, why: `custom format, one file (${reason})` };
  }
  if (!options.localPgDump)
    return {
      format: 'custom',
      jobs: 1,
      why: `custom format, one file (${shape}, but pg_dump runs in a container and streams one file)`,
    };
  return { format: 'directory', jobs, why: `directory format, ${jobs} parallel jobs (${shape}; ${cores} cores)` };
}
