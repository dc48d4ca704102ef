// Hardening cases found by review: an app whose search_path lists several schemas, tables
// whose rows row level security hides, an app working in its own schema, an app folder without
// its last snapshot. See test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const reviewCases: FailureCase[] = [
  {
    id: 'lint.search-path-later-schema',
    group: 'migrations',
    title: 'A migration drops an unqualified table that a later schema of the search_path holds (an app)',
    did: 'Upgraded an app whose URL pins `search_path=app,public`; schema `app` exists but has no `audit_log`, `public.audit_log` holds rows, and the pending migration runs `DROP TABLE audit_log;`.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.destructive',
    message: '1 destructive statement pending: 0001_drop_audit.sql:1 drops table audit_log and its data',
    hint: 'review them; if they are intended, run again with --allow-destructive=0001_drop_audit (a backup is taken first); nothing was changed',
    exit: 3,
    changed: 'nothing',
    note: 'Unqualified names resolve as PostgreSQL resolves them: the first schema of the search_path that holds the name (live, or made earlier in the run), and new objects go to the first schema of it that exists. Before, every unqualified name was taken to be in the first schema only, so the drop of public.audit_log passed with no finding.',
    test: 'failures-review.test.ts',
  },
  {
    id: 'lint.rows-hidden-by-rls',
    group: 'migrations',
    title: 'A migration drops a table whose rows row level security hides from upkit\'s role (an app)',
    did: 'Upgraded an app, as the role that owns its tables, whose `notes` table has `FORCE ROW LEVEL SECURITY` and a tenant policy (`tenant_id = current_setting(\'app.tenant\', true)::int`): every row is hidden from upkit\'s session; the pending migration runs `DROP TABLE notes;`.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}' },
    code: 'lint.destructive',
    message: '1 destructive statement pending: 0001_drop_notes.sql:1 drops table notes and its data',
    hint: 'review them; if they are intended, run again with --allow-destructive=0001_drop_notes (a backup is taken first); nothing was changed',
    exit: 3,
    changed: 'nothing',
    note: 'A table where row level security is active for the session (`row_security_active`) is taken to hold rows, as one the role may not read is. Before, its policies filtered the plan\'s row probe, the table read as empty, and the drop passed with no finding.',
    test: 'failures-review.test.ts',
  },
];
