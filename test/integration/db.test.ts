import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../lib/config.ts';
import { connect, withAdvisoryLock, withClient, withTransaction } from '../../lib/db.ts';
import { UpkitError } from '../../lib/errors.ts';
import { useFreshDatabase } from '../support/database.ts';

function configFor(url: string): Config {
  return loadConfig({ env: { DATABASE_URL: url }, cwd: process.cwd() });
}

describe('database access', () => {
  const db = useFreshDatabase();

  it('commits a transaction, and rolls it back when the callback throws', async () => {
    const c = configFor(db().url);
    await withClient(c.db, c, async (client) => {
      await client.query('create table t (id int)');
      await withTransaction(client, (tx) => tx.query('insert into t values (1)'));
      await expect(
        withTransaction(client, async (tx) => {
          await tx.query('insert into t values (2)');
          throw new Error('stop');
        }),
      ).rejects.toThrow('stop');
      expect((await client.query('select array_agg(id) as ids from t')).rows[0].ids).toEqual([1]);
      await expect(
        withTransaction(client, (tx) => tx.query('insert into t values (3)'), { readOnly: true }),
      ).rejects.toThrow(/read-only transaction/);
    });
  });

  it(
    'holds the run lock on a dedicated connection; ' + 'a second holder is refused with exit 5 naming the first',
    async () => {
      const c = configFor(db().url);
      let second: unknown;
      await withAdvisoryLock(c.migrationDb, c, 'upgrade', async (lockClient) => {
        const { rows } = await lockClient.query<{ pid: number }>('select pg_backend_pid() as pid');
        try {
          await withAdvisoryLock(c.migrationDb, c, 'upgrade', async () => {
            throw new Error('must not run');
          });
        } catch (err) {
          second = err;
        }
        expect(second).toBeInstanceOf(UpkitError);
        expect((second as UpkitError).exitCode).toBe(5);
        expect((second as UpkitError).message).toMatch(
          new RegExp(
            `^another upkit run holds the lock on ${db().database}: pid ${rows[0]!.pid}` +
              ` \\(upkit upgrade \\S+ ${process.pid}(?: from [^,]+)?, connected \\d{4}-`,
          ),
        );
      });
      // Released in finally: the next run gets it.
      await expect(withAdvisoryLock(c.migrationDb, c, 'upgrade', async () => 'ran')).resolves.toBe('ran');
    },
  );

  it('releases the lock when the callback throws', async () => {
    const c = configFor(db().url);
    await expect(
      withAdvisoryLock(c.migrationDb, c, 'upgrade', async () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    await expect(withAdvisoryLock(c.migrationDb, c, 'upgrade', async () => 'again')).resolves.toBe('again');
  });

  it('names the missing database and suggests install', async () => {
    const c = configFor(db().url.replace(/\/[^/]+$/, '/upkit_missing_db'));
    const err = await connect(c.db, c).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpkitError);
    expect((err as UpkitError).message).toBe(`database "upkit_missing_db" does not exist on ${db().host}:${db().port}`);
    expect((err as UpkitError).hint).toBe('create it with: npx zx install.ts (or check the database name)');
  });
});
