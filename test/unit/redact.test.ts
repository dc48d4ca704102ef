import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, redact, redactDeep, registerSecret } from '../../lib/redact.ts';

afterEach(() => clearSecrets());

describe('redact', () => {
  it('masks passwords in connection URLs, raw and percent-encoded, up to the last @', () => {
    expect(redact('postgres://pulse:s3cret@db:5432/x')).toBe('postgres://pulse:***@db:5432/x');
    expect(redact('url=postgresql://pulse:p%40ss%3A@db/x and more')).toBe('url=postgresql://pulse:***@db/x and more');
    expect(redact('postgres://pulse:p@ss@db/x')).toBe('postgres://pulse:***@db/x');
  });

  it('masks PGPASSWORD and similar assignments', () => {
    expect(redact('PGPASSWORD=abc123 pg_dump')).toBe('PGPASSWORD=*** pg_dump');
    expect(redact('DB_PASSWORD="a b c"')).toBe('DB_PASSWORD=***');
    expect(redact('password: hunter2')).toBe('password: ***');
    expect(redact('JWT_SECRET=xyz, SESSION_TOKEN=abc')).toBe('JWT_SECRET=***, SESSION_TOKEN=***');
  });

  it('masks a registered secret wherever it appears, in every encoding', () => {
    const s = 'Sentinel p@ss:/%#';
    registerSecret(s);
    for (const form of [s, encodeURIComponent(s), encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), JSON.stringify(s).slice(1, -1)]) {
      expect(redact(`error near ${form} here`)).toBe('error near *** here');
    }
  });

  it('leaves ordinary text and the usage placeholder alone', () => {
    expect(redact('password authentication failed for user "pulse"')).toBe('password authentication failed for user "pulse"');
    expect(redact('expected postgres://USER:PASSWORD@HOST:5432/DATABASE')).toBe('expected postgres://USER:PASSWORD@HOST:5432/DATABASE');
    registerSecret('ab');
    expect(redact('a table called ab')).toBe('a table called ab');
  });

  it('redacts every string in a report', () => {
    registerSecret('topsecret');
    expect(redactDeep({ a: ['x topsecret', { b: 'postgres://u:pw@h/d' }], n: 3, z: null })).toEqual({ a: ['x ***', { b: 'postgres://u:***@h/d' }], n: 3, z: null });
  });
});
