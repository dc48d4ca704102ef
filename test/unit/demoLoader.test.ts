import { describe, expect, it } from 'vitest';
import { isUpkitError } from '../../lib/errors.ts';
import { loadDemo, missingPackage, type Demo } from '../support/demoLoader.ts';

const notFound = (message: string): Error => Object.assign(new Error(message), { code: 'ERR_MODULE_NOT_FOUND' });

describe('the demo on an install without its development packages', () => {
  it('names the package Node could not find, scoped or not', () => {
    expect(
      missingPackage(notFound("Cannot find package 'vitest' imported from /opt/upkit/test/support/database.ts")),
    ).toBe('vitest');
    expect(
      missingPackage(notFound("Cannot find package '@testcontainers/postgresql' imported from /opt/upkit/x.ts")),
    ).toBe('@testcontainers/postgresql');
    expect(missingPackage(notFound("Cannot find module 'vitest/node' imported from /opt/upkit/x.ts"))).toBe('vitest');
    expect(missingPackage(new Error("Cannot find package 'vitest'"))).toBeUndefined();
  });

  it('says so in one line with the command that brings it (exit 2); any other error is left as it is', async () => {
    const failed = await loadDemo(() =>
      Promise.reject(notFound("Cannot find package 'vitest' imported from /opt/upkit/a.ts")),
    ).catch((e: unknown) => e);
    expect(
      isUpkitError(failed) && { code: failed.code, exit: failed.exitCode, message: failed.message, hint: failed.hint },
    ).toEqual({
      code: 'demo.needs_full_install',
      exit: 2,
      message:
        "the demo needs upkit's full install (npm ci): vitest is not " +
        'installed here (a server install, npm ci --omit=dev, leaves it out)',
      hint: 'run: npm ci, then npm run demo',
    });
    const own = notFound(
      "Cannot find module '/opt/upkit/test/support/demo.ts' imported from /opt/upkit/scripts/demo.ts",
    );
    await expect(loadDemo(() => Promise.reject(own))).rejects.toBe(own);
    const other = new TypeError('boom');
    await expect(loadDemo(() => Promise.reject(other))).rejects.toBe(other);
    await expect(loadDemo(() => Promise.resolve({ marker: 1 } as unknown as Demo))).resolves.toEqual({ marker: 1 });
  });
});
