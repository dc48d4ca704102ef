// Hardening cases, part two: see test/failures/catalogue.ts for what a case is.
// Rollback: a backup is the one the run took (by sha256, server and database, as upkit.runs
// recorded them), or rollback refuses it.
import type { FailureCase } from '../types.ts';

export const rollbackCases: FailureCase[] = [
  {
    id: 'rollback.backup-replaced',
    group: 'restore',
    title: "Rollback when the run's backup was replaced by another database's",
    did: "After an upgrade, replaced the backup file it took and its manifest by a backup of another database (same name), then ran rollback --yes.",
    entry: 'scripts/rollback.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.backup_replaced',
    message:
      "{file} is not the backup the upgrade of {time} took: its manifest names database {other}, the run recorded {database}; its manifest gives sha256 {otherSha}, the run recorded {sha}; the file's sha256 is {otherSha}, the run recorded {sha}",
    hint: "find that run's backup (npx zx scripts/status.ts lists the runs), or, if you mean this file, restore it by name: npx zx scripts/restore.ts {file}; nothing was changed",
    exit: 3,
    changed: 'nothing (no database created, upkit.runs unchanged)',
    note: "upkit.runs records the backup's sha256, the server's system_identifier and the database when a run takes it. Before, the ledger kept the path only and the other database was restored in place with one ⚠ line, exit 0.",
    test: 'failures-rollback.test.ts',
  },
  {
    id: 'rollback.backup-file-swapped',
    group: 'restore',
    title: "Rollback when only the backup's archive was replaced",
    did: "After an upgrade, replaced the backup's archive by another database's and edited its manifest (size, sha256) to describe the new file, keeping the database name, then ran rollback --yes.",
    entry: 'scripts/rollback.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'rollback.backup_replaced',
    message: "{file} is not the backup the upgrade of {time} took: its manifest gives sha256 {otherSha}, the run recorded {sha}; the file's sha256 is {otherSha}, the run recorded {sha}",
    hint: "find that run's backup (npx zx scripts/status.ts lists the runs), or, if you mean this file, restore it by name: npx zx scripts/restore.ts {file}; nothing was changed",
    exit: 3,
    changed: 'nothing',
    note: 'a manifest can be rewritten to match any file; the sha256 upkit.runs recorded cannot be, from the file system.',
    test: 'failures-rollback.test.ts',
  },
];
