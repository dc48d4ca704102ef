// verify sets its own session's timeouts before its first read, as migrations do: a
// database's idle_in_transaction_session_timeout or statement_timeout does not end it.
import { describe, expect, it } from 'vitest';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('verify: its own session timeouts', () => {
  const db = useFreshDatabase();

  it(
    'a database with idle_in_transaction_session_timeout = 1ms and ' +
      'statement_timeout = 20ms (shorter than its catalog read) is verified whole',
    async () => {
      await asRelease(db(), 'v2.3');
      await withClientAt(db().url, async (c) => {
        const name = c.escapeIdentifier(db().database);
        await c.query(`alter database ${name} set idle_in_transaction_session_timeout = '1ms'`);
        await c.query(`alter database ${name} set statement_timeout = '20ms'`);
      });
      const r = await runUpkit('verify/index.ts', ['--json'], { env: { DATABASE_URL: db().url } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/timeout/);
    },
  );
});
