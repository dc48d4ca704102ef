// Hardening cases: signals (a terminal or SSH session that hangs up), output nobody reads any
// more, hints that must paste, redaction that keeps names usable, and verify beside a
// running upgrade. See test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const outputCases: FailureCase[] = [
  {
    id: 'out.sighup-backup',
    group: 'output',
    title: 'SSH session dropped during the backup (SIGHUP)',
    did: 'The SSH session running the upgrade dropped while pg_dump ran (the test holds pg_dump on a table lock and sends SIGHUP, as the terminal does when it hangs up).',
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'interrupted',
    message: 'interrupted by SIGHUP during the backup; the partial backup file was removed and nothing was changed; upkit.runs records the run as interrupted',
    hint: 'run the upgrade again when ready',
    exit: 130,
    changed: "nothing in Pulse's schema, data or ledgers; upkit.runs records the run as interrupted; no backup file or .partial is left and pg_dump was ended",
    test: 'failures-output-signals.test.ts',
    note: 'SIGHUP is handled as SIGTERM by every command: the run stops as on Ctrl-C, and any pg_dump, pg_restore, psql or docker compose upkit started is ended with it.',
  },
  {
    id: 'out.sighup-restore',
    group: 'output',
    title: 'SSH session dropped while pg_restore ran (SIGHUP)',
    did: 'The SSH session running an in-place restore dropped while pg_restore wrote the new database (the test pauses pg_restore, then sends SIGHUP).',
    entry: 'scripts/restore.ts',
    args: ['{file}', '--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'interrupted',
    step: 'pg_restore → {restored}',
    message: 'interrupted by SIGHUP',
    hint: null,
    exit: 130,
    changed: 'nothing: the live database is untouched, the database being restored into was dropped, and pg_restore was ended',
    test: 'failures-output-signals.test.ts',
  },
];
