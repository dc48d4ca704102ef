// Hardening cases of profiles: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const profilesCases: FailureCase[] = [
  {
    id: 'install.admin-email-app',
    group: 'install',
    title: "A first admin for an app's drizzle folder",
    did:
      "Ran install.ts --drizzle-dir with another app's folder and --admin-email " +
      "on an empty database (the first organization and admin user are Pulse's).",
    entry: 'install.ts',
    args: [
      '--yes',
      '--no-containers',
      '--drizzle-dir',
      '{dir}',
      '--admin-email',
      'ops@example.com',
      '--admin-password-file',
      '{passwordFile}',
    ],
    env: { DATABASE_URL: '{url}' },
    code: 'usage',
    message: '--admin-email creates a Pulse organization and user; it does not apply with --drizzle-dir',
    hint: null,
    exit: 2,
    changed: 'nothing: the database is still empty (the whole app used to be installed first, then refused)',
    test: 'failures-profiles.test.ts',
  },
];
