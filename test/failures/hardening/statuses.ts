// Statuses that tell the truth: the last line and the --json report of a run say what it did
// before it ended (nothing, or how many steps), and a phase that found problems is never ✔.
// See test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const statusesCases: FailureCase[] = [
  {
    id: 'status.applied-then-problems',
    group: 'verify',
    title: "An app's upgrade applies its steps, then verification finds a problem",
    did:
      "Upgraded another app's database (`--drizzle-dir`) from its 0001 to its 0003, where someone had " +
      'dropped an index by hand after 0001. Before, the verify phase was shown `✔ verify  1 problem(s)` ' +
      'and the --json report said `"status": "refused"` for a run that had applied two migrations.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'upgrade.verify_problems',
    message:
      'verification found 1 problem (listed above) after the upgrade applied 2 steps; ' +
      'the database stands at 0003_integration_status_enum',
    hint: 'see them again: npx zx verify/index.ts --drizzle-dir {dir}; to go back: npx zx scripts/restore.ts {backup}',
    exit: 4,
    changed:
      '0002 and 0003 are applied and recorded (a backup was taken first); the index is still missing; ' +
      "upkit.runs records the run failed, its stored report's outcome applied-then-problems",
    note:
      'the verify phase ends `✖ verify  1 error in schema and ledgers`; the --json report has `status: ' +
      'problems`, `outcome: applied-then-problems`, `changes: { made: true, steps: 2 }` and `summary: ' +
      'applied 2 steps, then verification found 1 problem`. Nothing about seed data is said: this app has none.',
    test: 'failures-statuses.test.ts',
  },
  {
    id: 'status.verify-problems',
    group: 'verify',
    title: "A read-only verify of an app's database that finds a problem",
    did:
      "Ran verify on another app's database (`--drizzle-dir`) where an index was dropped by hand. " +
      'Before, the --json report said `"status": "refused"`, as for a run refused before any change, ' +
      'and the summary listed `seed data not checked` for an app that has no seed data.',
    entry: 'verify/index.ts',
    args: ['--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'schema.index_missing',
    message: 'index configurations_created_by_idx on configurations is missing (expected btree (created_by))',
    hint:
      'the migrations that made it are recorded, so it was changed by hand; repair it in psql: ' +
      'CREATE INDEX CONCURRENTLY configurations_created_by_idx ON configurations (created_by);',
    exit: 4,
    changed: 'nothing (verify reads in one read-only transaction)',
    note:
      'the schema phase ends `✖ schema  … : 1 error`; the report has `status: problems`, `outcome: problems`, ' +
      '`changes: { made: false, steps: 0 }`, `summary: verification found 1 problem; nothing was changed`.',
    test: 'failures-statuses.test.ts',
  },
  {
    id: 'status.refused',
    group: 'verify',
    title: "An app's upgrade refused before any change",
    did:
      "Ran the upgrade with an older copy of an app's drizzle " +
      'folder (two entries) on a database that has four applied.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', BACKUP_DIR: '{backups}' },
    code: 'ledger.unknown_entry',
    message:
      'the database records 2 migrations these files do not have (created_at ' +
      "1795500979753, 1795500986352): it is newer than this upkit's content",
    hint:
      'run the upkit release that matches the database (or restore ' +
      'a backup taken before that release); nothing was changed',
    exit: 3,
    changed: 'nothing (not even upkit.runs)',
    note:
      'the report has `status: refused`, `outcome: refused`, `changes: { made: ' +
      'false, steps: 0 }`, `summary: refused before any change; nothing was changed`.',
    test: 'failures-statuses.test.ts',
  },
];
