// Hardening cases: the log folder's retention (UPKIT_LOG_KEEP). See test/failures/catalogue.ts
// for what a case is.
import type { FailureCase } from '../types.ts';

const TEST = 'failures-logs.test.ts';

export const logsCases: FailureCase[] = [
  {
    id: 'logs.keep-invalid',
    group: 'configuration',
    title: 'UPKIT_LOG_KEEP that is not a number of files',
    did:
      'Set UPKIT_LOG_KEEP=ten, meaning to keep ten log files, ' +
      'and ran the upgrade; logs/ holds older log files of upkit.',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', UPKIT_LOG_DIR: '{logs}', UPKIT_LOG_KEEP: 'ten' },
    code: 'config.invalid',
    message: 'UPKIT_LOG_KEEP: must be a whole number above 0 or all, got "ten"',
    hint:
      'unset UPKIT_LOG_KEEP (100 log files are kept) ' +
      'or set it to how many to keep, then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing: no database was reached and no log file was deleted',
    test: TEST,
    note:
      'UPKIT_LOG_KEEP is read from the environment, as UPKIT_LOG_DIR is, not from `.env`. ' +
      '0, -1, 1.5 and ALL are refused the same way; `all` keeps every file.',
  },
  {
    id: 'logs.foreign-file',
    group: 'output',
    title: 'A file in logs/ that upkit cannot prove it wrote',
    did:
      'logs/ holds a log file written before upkit had log retention (named like its logs, ' +
      'with no header line), older than the newest UPKIT_LOG_KEEP=2 log files; then verify ran.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}', UPKIT_LOG_DIR: '{logs}', UPKIT_LOG_KEEP: '2' },
    json: false,
    severity: 'warning',
    code: 'logs.unproven',
    message:
      "1 file in {logs} is named like upkit's logs and older than the newest 2, " +
      'but upkit cannot prove it wrote it, so it is kept (the oldest: verify-20250101T000000Z-4242.log)',
    hint: 'look at it and delete what is not needed: ls -l -- {logs}',
    exit: 0,
    changed:
      "nothing in the database; the older of upkit's own log files beyond " +
      'the newest 2 were deleted, the foreign file was left as it was',
    test: TEST,
    note:
      'upkit deletes a log file only when it can prove it wrote it: a regular file of this user in that folder, ' +
      "named as upkit names its logs, whose first line is upkit's header naming the run, and whose run has ended. " +
      "Symlinks, subfolders, other users' files and files of runs still going are kept without a word; files of this " +
      'user named like logs but without the header are named in this warning (it is shown before anything else, ' +
      'not in the --json report). Log files written before upkit ' +
      'had retention have no header: delete them by hand once.',
  },
];
