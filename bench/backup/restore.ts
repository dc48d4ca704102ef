// The restore half of bench/backup, filled in once upkit's restore exists.
import type { Config } from '../../lib/config.ts';
import type { PgBinary } from '../../lib/pgTools.ts';
import type { ServerHandle } from '../../test/support/servers/common.ts';

export interface RestoreBenchInput {
  server: ServerHandle;
  config: Config;
  env: NodeJS.ProcessEnv;
  work: string;
  backupDir: string;
  pgDump: PgBinary;
  runs: number;
}

export async function restorePeers(_input: RestoreBenchInput): Promise<{ lines: string[] }> {
  return { lines: ['Restore: not measured in this run.'] };
}
