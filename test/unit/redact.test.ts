import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, redact, redactDeep, registerPublic, registerSecret } from '../../lib/redact.ts';

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
    for (const form of [
      s,
      encodeURIComponent(s),
      encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
      JSON.stringify(s).slice(1, -1),
    ]) {
      expect(redact(`error near ${form} here`)).toBe('error near *** here');
    }
  });

  it('leaves ordinary text and the usage placeholder alone', () => {
    expect(redact('password authentication failed for user "pulse"')).toBe(
      'password authentication failed for user "pulse"',
    );
    expect(redact('expected postgres://USER:PASSWORD@HOST:5432/DATABASE')).toBe(
      'expected postgres://USER:PASSWORD@HOST:5432/DATABASE',
    );
    registerSecret('ab');
    expect(redact('a table called ab')).toBe('a table called ab');
  });

  it('redacts every string in a report', () => {
    registerSecret('topsecret');
    expect(redactDeep({ a: ['x topsecret', { b: 'postgres://u:pw@h/d' }], n: 3, z: null })).toEqual({
      a: ['x ***', { b: 'postgres://u:***@h/d' }],
      n: 3,
      z: null,
    });
  });

  it('keeps names and paths that contain the password whole, and masks the password where it is one', () => {
    registerSecret('pulse');
    for (const name of ['pulse', 'pulse_admin', '/tmp/pulse backups', 'db.pulse.internal']) registerPublic(name);
    const backup = '/tmp/pulse backups/pulse-v2.3-20261201T000000Z.dump';
    expect(redact(`restore with: npx zx scripts/restore.ts '${backup}'`)).toBe(
      `restore with: npx zx scripts/restore.ts '${backup}'`,
    );
    expect(redact('role "pulse_admin" on database "pulse" at db.pulse.internal:5432')).toBe(
      'role "pulse_admin" on database "pulse" at db.pulse.internal:5432',
    );
    expect(redact('postgres://pulse_admin:pulse@db.pulse.internal:5432/pulse')).toBe(
      'postgres://pulse_admin:***@db.pulse.internal:5432/pulse',
    );
    expect(redact('PGPASSWORD=pulse pg_dump')).toBe('PGPASSWORD=*** pg_dump');
    expect(redact('{"user":"pulse_admin","password":"pulse"}')).toBe('{"user":"pulse_admin","password":***}');
    expect(redact('db.pulse.internal:5432:pulse:pulse_admin:pulse')).toBe(
      'db.pulse.internal:5432:pulse:pulse_admin:***',
    );
  });

  it('still masks a registered password outside the public names', () => {
    registerSecret('pulse');
    registerPublic('pulse_admin');
    expect(redact('DATABASE_SSL: "pulse" is not one of false, true; role pulse_admin')).toBe(
      'DATABASE_SSL: "***" is not one of false, true; role pulse_admin',
    );
  });

  it('masks a pass-file line only where it is one', () => {
    expect(redact('*:*:*:ops:s3cr\\:et')).toBe('*:*:*:ops:***');
    expect(redact('at 10:30:00: error: x')).toBe('at 10:30:00: error: x');
    expect(redact('2026-12-01T22:38:34.468Z plan: pulse v2.2 → v2.3')).toBe(
      '2026-12-01T22:38:34.468Z plan: pulse v2.2 → v2.3',
    );
  });
});
