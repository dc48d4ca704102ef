// Hardening cases (issue 17): see test/failures/catalogue.ts for what a case is.
// Directory-format backups (several large tables, parallel pg_dump jobs): a folder that no
// longer matches its manifest, and a partial folder that is not provably upkit's.
import type { FailureCase } from '../types.ts';

const RESTORE = 'scripts/restore.ts';
const BACKUP = 'scripts/backup.ts';
const TEST = 'failures-backupspeed.test.ts';
const NEXT = 'pick another backup, or take a new one with: npx zx scripts/backup.ts; nothing was changed';

export const backupspeedCases: FailureCase[] = [
  {
    id: 'backupspeed.dir-file-changed',
    group: 'restore',
    title: 'A file inside a directory-format backup was changed',
    did:
      'Restored a directory-format backup (a folder: several large tables, dumped by parallel jobs) ' +
      "after one byte of a table's data file in it was changed, its size unchanged.",
    entry: RESTORE,
    args: ['{archive}', '--into', '{into}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check backup',
    code: 'restore.sha256_mismatch',
    message: "{file} has sha256 {actual}, the backup's manifest says {expected}: the file was changed or damaged",
    hint: NEXT,
    exit: 3,
    changed: 'nothing: no database is created',
    note:
      'the manifest of a folder lists every file with its size and sha256; ' +
      'each is checked before pg_restore reads anything.',
    test: TEST,
  },
  {
    id: 'backupspeed.dir-file-missing',
    group: 'restore',
    title: 'A file missing from a directory-format backup',
    did: "Restored a directory-format backup after one table's data file was deleted from its folder.",
    entry: RESTORE,
    args: ['{archive}', '--into', '{into}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    step: 'check backup',
    code: 'restore.files_mismatch',
    message: 'backup folder {archive} lacks {name}: changed or damaged',
    hint: NEXT,
    exit: 3,
    changed: 'nothing: no database is created',
    note: 'a file added to the folder is refused the same way (`holds NAME that its manifest does not list`).',
    test: TEST,
  },
  {
    id: 'backupspeed.partial-foreign',
    group: 'backups',
    title: "A stale partial backup folder holding files upkit's pg_dump does not write",
    did:
      'Took a backup into a BACKUP_DIR holding a folder named like a partial backup of ' +
      'a run that has ended, with a file in it pg_dump never writes (`important.txt`).',
    entry: BACKUP,
    args: [],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{dir}' },
    severity: 'warning',
    code: 'backup.partial_foreign',
    message: "left {partial} alone: it holds files upkit's pg_dump does not write (important.txt)",
    hint:
      'look inside and remove it yourself if nothing in it is needed; ' +
      'upkit never removes what it cannot prove it wrote',
    exit: 0,
    changed: 'nothing in the database; the folder and everything in it are kept; the backup is taken',
    note:
      "a partial folder holding only pg_dump's files (toc.dat, " +
      '<id>.dat.gz) is removed file by file, then the folder.',
    test: TEST,
  },
];
