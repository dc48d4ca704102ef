// The shadow cache key (verify/shadowCache.ts): what decides the replayed schema is in it, the
// search_path the replay pins included; the role only where "$user" can name a schema the
// migrations make, so that a read-only role's verify finds the replay the migration role built.
import { describe, expect, it } from 'vitest';
import { readJournal, readMigrations } from '../../lib/drizzle/journal.ts';
import { shadowKey } from '../../verify/shadowCache.ts';
import { writeAppFolder } from '../support/appFolders.ts';

function keyOf(sql: string, searchPath: string, user: string): string {
  const dir = writeAppFolder([{ tag: '0000_init', sql }], {});
  return shadowKey({ drizzleDir: dir, migrations: readMigrations(dir), entry: readJournal(dir).at(-1)! }, 15, [], {
    searchPath,
    user,
  });
}

describe('the shadow cache key', () => {
  const plain = 'CREATE TABLE "users" ("id" integer);';
  it('differs with the search_path', () => {
    expect(keyOf(plain, 'app, public', 'u')).not.toBe(keyOf(plain, 'public', 'u'));
    expect(keyOf(plain, 'app, public', 'u')).not.toBe(keyOf(plain, 'public, app', 'u'));
    expect(keyOf(plain, '"public"', 'u')).toBe(keyOf(plain, 'public', 'u'));
  });

  it('leaves the role out unless "$user" can name a schema the migrations make', () => {
    expect(keyOf(plain, '"$user", public', 'owner')).toBe(keyOf(plain, '"$user", public', 'reader'));
    expect(keyOf(plain, 'public', 'owner')).toBe(keyOf(plain, 'public', 'reader'));
    const own = 'CREATE SCHEMA AUTHORIZATION CURRENT_USER;';
    expect(keyOf(own, '"$user", public', 'owner')).not.toBe(keyOf(own, '"$user", public', 'reader'));
    const named = 'CREATE SCHEMA "owner";';
    expect(keyOf(named, '"$user", public', 'owner')).not.toBe(keyOf(named, '"$user", public', 'reader'));
  });
});
