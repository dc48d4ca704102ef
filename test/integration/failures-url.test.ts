// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): every malformed connection
// value. Each is refused with exit 2, naming the key and never echoing the value (it may hold
// the password), and the database the value was meant for is left exactly as it was.
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { useFreshDatabase } from '../support/database.ts';

describe('failure catalogue: connection values', () => {
  const db = useFreshDatabase();

  const ids = [
    'url.not-postgres',
    'url.password-hash',
    'url.password-slash',
    'url.space',
    'url.no-database',
    'url.no-host',
    'url.port-range',
    'url.direct-url',
    'parts.db-name-missing',
    'parts.port',
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
          password: db().password,
          database: db().database,
          // Refused while the settings are read, before anything depends on the process: run in process.
        },
        { inProcess: true },
      );
      expectCase(r, c, r.vars);
      for (const secret of ['pa#ss', 'pa/ss', 'two words', db().password]) {
        expect(r.stderr + r.stdout + r.logs()).not.toContain(secret);
      }
      await expectUnchanged(db().url, before);
    });
  }
});
