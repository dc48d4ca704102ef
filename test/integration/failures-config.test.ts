// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): `.env` and the settings
// in the environment. Each is refused with exit 2 before any connection is made, and the
// database named in the settings is left exactly as it was.
import { describe, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { useFreshDatabase } from '../support/database.ts';

describe('failure catalogue: configuration', () => {
  const db = useFreshDatabase();

  const ids = [
    'config.no-settings',
    'config.env-line',
    'config.env-hash',
    'config.env-unclosed-quote',
    'config.timeout-unit',
    'config.ssl-mode',
    'config.ssl-ca-missing',
    'config.healthcheck-url',
    'config.drizzle-dir-missing',
  ];
  for (const id of ids) {
    it(id, async () => {
      const c = failureCase(id);
      const before = await dbState(db().url);
      const r = await runCase(
        c,
        {
          url: db().url,
          host: db().host,
          port: db().port,
          user: db().user,
          database: db().database,
          // Refused while the settings are read, before anything depends on the process: run in process.
        },
        { inProcess: true },
      );
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
    });
  }
});
