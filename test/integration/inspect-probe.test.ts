// The plan reads which tables hold a row without waiting on a table another session locks
// exclusively. The locks are read first; a lock taken after that read (the race the first
// read cannot see) must still not hold the plan up: the probe gives up on it after a short
// lock wait, reads the locks again and counts that table as holding rows.
import { describe, expect, it } from 'vitest';
import { probeRows } from '../../lib/inspect.ts';
import { connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';

describe('the row probe of the plan', () => {
  const db = useFreshDatabase();

  it(
    'a table locked after the locks were read is skipped (taken to ' +
      'hold rows), the others are read, and the transaction goes on',
    async () => {
      await withClientAt(db().url, (c) =>
        c.query(
          'create table busy (id int); create table full_one (id int); ' +
            'create table empty_one (id int); insert into full_one values (1)',
        ),
      );
      const holder = await connectTo(db().url, 'upkit test holder');
      const reader = await connectTo(db().url, 'upkit test reader');
      try {
        await holder.query('begin');
        await holder.query('lock table busy in access exclusive mode');
        await reader.query('begin transaction read only');
        await reader.query(`set local lock_timeout = '1min'`);
        // As if the locks had been read before the holder took its lock: nothing seen locked.
        const r = await probeRows(
          reader,
          [
            { schema: 'public', name: 'busy' },
            { schema: 'public', name: 'full_one' },
            { schema: 'public', name: 'empty_one' },
          ],
          new Set(),
        );
        expect([...r.unread]).toEqual(['public.busy']);
        expect([...r.filled]).toEqual(['public.full_one']);
        // The transaction is usable and its own lock_timeout is as it was.
        expect((await reader.query(`select current_setting('lock_timeout') as v`)).rows[0].v).toBe('1min');
        await reader.query('commit');
        // The holder was never disturbed.
        expect((await holder.query('select count(*)::int as n from busy')).rows[0].n).toBe(0);
      } finally {
        await holder.end();
        await reader.end();
      }
    },
  );

  it('with no lock anywhere, every table is read', async () => {
    await withClientAt(db().url, (c) =>
      c.query(`create table "we""ird" (id int); insert into "we""ird" values (1); create table plain (id int)`),
    );
    await withClientAt(db().url, async (c) => {
      await c.query('begin transaction read only');
      const r = await probeRows(c, [
        { schema: 'public', name: 'we"ird' },
        { schema: 'public', name: 'plain' },
      ]);
      await c.query('commit');
      expect([...r.filled]).toEqual(['public.we"ird']);
      expect(r.unread.size).toBe(0);
    });
  });
});
