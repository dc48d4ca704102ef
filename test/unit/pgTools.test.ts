import { describe, expect, it } from 'vitest';
import { chooseForServer, clientPackageHint, type PgBinary } from '../../lib/pgTools.ts';

const bin = (major: number): PgBinary => ({
  path: `/usr/lib/postgresql/${major}/bin/pg_dump`,
  binDir: `/usr/lib/postgresql/${major}/bin`,
  major,
  version: `${major}.1`,
  foundVia: '/usr/lib/postgresql',
});

describe('pg_dump choice', () => {
  it('prefers the same major, then the nearest newer, never an older one', () => {
    expect(chooseForServer([bin(17), bin(15), bin(16)], 15)?.major).toBe(15);
    expect(chooseForServer([bin(18), bin(16)], 15)?.major).toBe(16);
    expect(chooseForServer([bin(14)], 15)).toBeUndefined();
  });

  it('names the package for the operating system', () => {
    expect(clientPackageHint(16, { ID: 'debian' })).toMatch(/^apt-get install postgresql-client-16/);
    expect(clientPackageHint(16, { ID: 'rocky', ID_LIKE: 'rhel centos fedora' })).toBe('dnf install postgresql16');
    expect(clientPackageHint(15, { ID: 'alpine' })).toBe('apk add postgresql15-client');
  });
});
