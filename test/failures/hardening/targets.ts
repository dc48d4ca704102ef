// Hardening cases of a run over targets (upkit.targets.json, --target, --all): see
// test/failures/catalogue.ts for what a case is. The test writes the targets file in the
// working directory: orders (url ORDERS_DATABASE_URL, an app) and billing (prefix BILLING_, an app).
import type { FailureCase } from '../types.ts';

const TWO =
  'the targets file names orders (url ORDERS_DATABASE_URL) ' +
  'and billing (prefix BILLING_), each an app with its own drizzle folder.';
const ENV = {
  ORDERS_DATABASE_URL: '{ordersUrl}',
  BILLING_DB_HOST: '{host}',
  BILLING_DB_PORT: '{port}',
  BILLING_DB_USER: '{user}',
  BILLING_DB_PASSWORD: '{password}',
  BILLING_DB_NAME: '{database}',
};

export const targetsCases: FailureCase[] = [
  {
    id: 'targets.password-field',
    group: 'configuration',
    title: 'A password written into the targets file',
    did: 'Added "password" to a target of upkit.targets.json instead of naming where the password is.',
    entry: 'upgrade.ts',
    args: ['--all', '--yes'],
    env: ENV,
    code: 'targets.invalid',
    message:
      '{file}: $.targets[1]: has a field that looks like a password (password); the targets file holds no ' +
      'secrets, only where they are (url names a variable, ' +
      'prefix reads <PREFIX>DB_PASSWORD from the environment or .env)',
    hint: 'fix {file}, then run: npx zx upgrade.ts --all --dry-run',
    exit: 2,
    changed: 'nothing: no target was run (the file is checked whole before anything starts)',
    note:
      `${TWO} Every problem of the file is listed at once, ` +
      `each by its JSON path; unknown keys are refused the same way.`,
    test: 'failures-targets.test.ts',
  },
  {
    id: 'targets.unknown-target',
    group: 'command-line',
    title: 'A target name that is not in the targets file',
    did: 'Ran the upgrade with --target for a service whose name is misspelled.',
    entry: 'upgrade.ts',
    args: ['--target', 'ordrs', '--yes'],
    env: ENV,
    code: 'usage',
    message: 'no target named "ordrs" in {file} (targets: orders, billing)',
    hint: 'run: npx zx upgrade.ts --target orders (or --all)',
    exit: 2,
    changed: 'nothing: no target was run',
    note: TWO,
    test: 'failures-targets.test.ts',
  },
  {
    id: 'targets.cycle',
    group: 'configuration',
    title: 'Targets that come after each other',
    did: 'Wrote "after": ["billing"] for orders and "after": ["orders"] for billing.',
    entry: 'upgrade.ts',
    args: ['--all', '--yes'],
    env: ENV,
    code: 'targets.invalid',
    message: '{file}: $.targets[0].after: makes a cycle: orders → billing → orders; no order can satisfy it',
    hint: 'fix {file}, then run: npx zx upgrade.ts --all --dry-run',
    exit: 2,
    changed: 'nothing: no target was run',
    note: `${TWO} A name in after that is no target is refused the same way, naming it.`,
    test: 'failures-targets.test.ts',
  },
  {
    id: 'targets.locked',
    group: 'concurrency',
    title: "One target's lock is held by another run",
    did: 'Ran the upgrade with --all while another upgrade of billing still held its run lock.',
    entry: 'upgrade.ts',
    args: ['--all', '--yes', '--no-containers'],
    env: ENV,
    code: 'lock.held',
    message:
      'billing: another upkit run holds the lock on {database}: ' +
      'pid {pid} (upkit upgrade ops-host 4242 from {client}, connected {time})',
    hint: 'wait for it to finish (npx zx scripts/status.ts --target billing shows it); nothing was changed',
    exit: 5,
    changed: 'nothing in billing; orders is upgraded as if billing were not there',
    note: `${TWO} The combined exit code is the worst target's (1 > 6 > 4 > 5 > 3 > 2 > 130 > 0).`,
    test: 'failures-targets.test.ts',
  },
  {
    id: 'targets.wrong-password',
    group: 'connection',
    title: 'A wrong password in one target',
    did: 'Ran the upgrade with --all while BILLING_DB_PASSWORD held an old password.',
    entry: 'upgrade.ts',
    args: ['--all', '--yes', '--no-containers'],
    env: { ...ENV, BILLING_DB_PASSWORD: 'not-the-password' },
    code: 'db.auth',
    message: 'billing: password authentication failed for user "{user}" at {host}:{port}',
    hint: 'check the password (BILLING_DB_PASSWORD), then run: npx zx scripts/preflight.ts --target billing',
    exit: 3,
    changed: 'nothing in billing; orders is upgraded as if billing were not there',
    note:
      `${TWO} Messages name the target's own variables (BILLING_DB_PASSWORD) ` +
      `and commands (--target billing). The password is never printed.`,
    test: 'failures-targets.test.ts',
  },
];
