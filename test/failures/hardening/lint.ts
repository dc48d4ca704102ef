// Hardening cases of the destructive lint: see test/failures/catalogue.ts for what a case is.
// The app is test/fixtures/lint-app: 0000 creates users and imports, 0001 adds users.slug and
// backfills it, 0002 drops imports. The database is at 0000 with rows in both tables.
import type { FailureCase } from '../types.ts';

const APP = ['--yes', '--drizzle-dir', '{dir}'];

export const lintCases: FailureCase[] = [
  {
    id: 'lint.destructive-on-data',
    group: 'migrations',
    title: 'A migration drops a table that holds rows',
    did:
      'Upgraded an app whose pending 0002 drops `imports`, which holds rows; ' +
      "the same run's 0001 backfills `users.slug`, a column it adds, which is no overwrite.",
    entry: 'upgrade.ts',
    args: APP,
    env: { DATABASE_URL: '{url}' },
    code: 'lint.destructive',
    message: '1 destructive statement pending: 0002_drop_imports.sql:1 drops table imports and its data',
    hint:
      'review them; if they are intended, run again with ' +
      '--allow-destructive=0002_drop_imports (a backup is taken first); nothing was changed',
    exit: 3,
    changed: 'nothing',
    note:
      'only data that exists when the plan is made counts: on an empty database (a fresh install) ' +
      'the same history has no finding at all. Before, the lint read each file alone and ' +
      'the fresh install refused too (the backfill "overwrites slug in every row of users", ' +
      'the drop of a table made two migrations earlier), with no --allow-destructive on install.ts.',
    test: 'failures-lint.test.ts',
  },
  {
    id: 'lint.accept-unknown-tag',
    group: 'command-line',
    title: '`--allow-destructive=TAG` with a tag that is not pending',
    did: 'Accepted the reviewed drop with a typo in its tag: `--allow-destructive=0002_drop_imprts`.',
    entry: 'upgrade.ts',
    args: [...APP, '--allow-destructive=0002_drop_imprts'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.accept_unknown',
    message:
      '--allow-destructive names 0002_drop_imprts, which is not a ' +
      'pending migration (pending: 0001_user_slug, 0002_drop_imports)',
    hint: 'run again with --allow-destructive=0002_drop_imports; nothing was changed',
    exit: 2,
    changed: 'nothing',
    note: 'a tag that accepts nothing never passes silently; the check is made on the plan, so --dry-run makes it too.',
    test: 'failures-lint.test.ts',
  },
  {
    id: 'lint.accept-nothing',
    group: 'command-line',
    title: '`--allow-destructive=TAG` naming a migration with nothing destructive',
    did: 'Named the backfill migration 0001 (nothing in it destroys data) instead of 0002.',
    entry: 'upgrade.ts',
    args: [...APP, '--allow-destructive=0001_user_slug'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.accept_nothing',
    message: '--allow-destructive names 0001_user_slug, which has no destructive statement to accept',
    hint: 'run again with --allow-destructive=0002_drop_imports; nothing was changed',
    exit: 2,
    changed: 'nothing',
    test: 'failures-lint.test.ts',
  },
  {
    id: 'lint.install-accept-nothing',
    group: 'install',
    title: '`install.ts --allow-destructive=TAG` on an empty database',
    did: 'Passed `--allow-destructive=0002_drop_imports` to a fresh install, where nothing can destroy data.',
    entry: 'install.ts',
    args: ['--yes', '--no-containers', '--drizzle-dir', '{dir}', '--allow-destructive=0002_drop_imports'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.accept_nothing',
    message: '--allow-destructive names 0002_drop_imports, which has no destructive statement to accept',
    hint: 'run again without --allow-destructive; nothing was changed',
    exit: 2,
    changed: 'nothing in the database; a missing `.env` is written first, as for every refusal of install',
    test: 'failures-lint.test.ts',
  },
  {
    id: 'lint.install-accept-unknown',
    group: 'install',
    title: '`install.ts --allow-destructive=TAG` with a tag the app does not have',
    did: 'Passed `--allow-destructive=0009_nothing` to install.ts; the app has no such migration.',
    entry: 'install.ts',
    args: ['--yes', '--no-containers', '--drizzle-dir', '{dir}', '--allow-destructive=0009_nothing'],
    dotenv: 'DATABASE_URL={url}\n',
    code: 'lint.accept_unknown',
    message: '--allow-destructive names 0009_nothing, which is not a migration of {dir}',
    hint: 'run again without --allow-destructive: a fresh install has nothing to lose; nothing was changed',
    exit: 2,
    changed: 'nothing: refused before the database is created or `.env` is written to',
    test: 'failures-lint.test.ts',
  },
];
