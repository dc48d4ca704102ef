import { describe, expect, it } from 'vitest';
import type { DbTarget } from '../../lib/config.ts';
import { libpqEnv } from '../../lib/pgEnv.ts';
import { targetOptions } from '../../lib/pgOptions.ts';

const BASE: DbTarget = {
  host: 'localhost',
  port: 5432,
  user: 'u',
  password: undefined,
  database: 'd',
  source: 'DATABASE_URL',
  schema: 'public',
};
const SSL = { ssl: 'false' as const, sslCa: undefined, connectTimeoutMs: 5000 };

describe('the search_path every session pins', () => {
  it('Pulse: public, quoted, as before', () => {
    expect(targetOptions({ ...BASE, settings: { work_mem: '64MB' } }, 'public')).toBe(
      '-c work_mem=64MB -c search_path="public"',
    );
  });

  it("an app: its own search_path value, for node's sessions and for pg_dump/pg_restore", () => {
    const target: DbTarget = { ...BASE, app: true, searchPath: '"$user", app, public' };
    expect(targetOptions(target, 'public')).toBe('-c search_path="$user",\\ app,\\ public');
    const prior = process.env.PGOPTIONS;
    process.env.PGOPTIONS = '-c search_path=evil';
    try {
      expect(libpqEnv(target, SSL).PGOPTIONS).toBe('-c search_path="$user",\\ app,\\ public');
      // Not known yet: no search_path sent, so the server's default for the role and database
      // applies; never empty, never the inherited PGOPTIONS.
      expect(libpqEnv({ ...BASE, app: true }, SSL).PGOPTIONS).toBe(' ');
    } finally {
      if (prior === undefined) delete process.env.PGOPTIONS;
      else process.env.PGOPTIONS = prior;
    }
  });
});
