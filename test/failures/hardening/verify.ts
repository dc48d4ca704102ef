// Hardening cases, part two: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

const BYPASS_HINT = 'run as a superuser: ALTER ROLE "{user}" BYPASSRLS; then run: npx zx verify/index.ts';

export const verifyCases: FailureCase[] = [
  {
    id: 'verify.rls-seed',
    group: 'verify',
    title: 'Row level security hides seed rows from the read-only role',
    did: 'Ran verify as the documented read-only role (LOGIN, USAGE, SELECT) on a v2.3 database whose organizations, permissions, roles and role_permissions have row level security with a policy for the application role only. verify used to report 25 seed rows missing (exit 4) that are there.',
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.row_security',
    message: 'row level security hides rows of public.organizations, public.permissions, public.roles, public.role_permissions from role {user} (no BYPASSRLS, no policy that lets it read every row), so seed data was not checked',
    hint: BYPASS_HINT,
    exit: 4,
    changed: 'nothing (verify reads in one read-only transaction); no seed finding claims a row is missing',
    test: 'failures-verify-rls.test.ts',
    note: 'A permissive policy `USING (true)` for the role (or PUBLIC) with no restrictive one, BYPASSRLS, or superuser: the rows are all visible, so seed data is checked as usual; the test checks that too.',
  },
  {
    id: 'verify.rls-ledger',
    group: 'verify',
    title: "Row level security on drizzle's ledger",
    did: "Enabled row level security on drizzle.__drizzle_migrations with no policy for the read-only role: it saw an empty ledger, and verify called every migration pending.",
    entry: 'verify/index.ts',
    args: [],
    env: { DATABASE_URL: '{url}' },
    code: 'verify.row_security',
    message: 'row level security hides rows of drizzle.__drizzle_migrations from role {user} (no BYPASSRLS, no policy that lets it read every row), so drizzle.__drizzle_migrations was not checked',
    hint: BYPASS_HINT,
    exit: 4,
    changed: 'nothing',
    test: 'failures-verify-rls.test.ts',
  },
];
