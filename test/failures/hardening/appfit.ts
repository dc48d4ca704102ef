// Hardening cases for any drizzle app: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const appfitCases: FailureCase[] = [
  {
    id: 'app.search-path-setting-empty',
    group: 'schema',
    title: 'UPKIT_SEARCH_PATH that names no schema (an app)',
    did: 'Ran another app\'s migrations (`--drizzle-dir`) with `UPKIT_SEARCH_PATH=,`: a search_path that lists nothing.',
    entry: 'upgrade.ts',
    args: ['--yes', '--drizzle-dir', '{dir}'],
    env: { DATABASE_URL: '{url}', UPKIT_SEARCH_PATH: ',' },
    code: 'config.invalid',
    message: 'UPKIT_SEARCH_PATH: names no schema (a search_path value, e.g. "$user", app, public)',
    hint: 'fix UPKIT_SEARCH_PATH in the environment, then run: npx zx scripts/preflight.ts',
    exit: 2,
    changed: 'nothing (no database was reached)',
    test: 'failures-appfit-search-path.test.ts',
    note: 'For an app, every session pins the search_path of the URL\'s `options`, else UPKIT_SEARCH_PATH, else the one the server sets for the role and database (read at the first connect, with no inherited PGOPTIONS); for Pulse, search_path is `public` and any other schema is refused, as before.',
  },
];
