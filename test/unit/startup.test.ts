// Start-up mode without a database: the --wait-for-lock values, and the library's public
// types held to the engine's (index.d.ts is written by hand so that an app's TypeScript
// reads it whatever its settings).
import { describe, expect, expectTypeOf, it } from 'vitest';
import { waitForLockSeconds } from '../../lib/commands/upgrade.ts';
import { MAX_LOCK_WAIT_SECONDS } from '../../lib/db.ts';
import type { EXIT } from '../../lib/errors.ts';
import type { Report } from '../../lib/report.ts';
import type * as Public from '../../index.d.ts';
import type * as Api from '../../lib/api.ts';

describe('--wait-for-lock SECONDS', () => {
  it('takes whole seconds from 1 to the documented maximum', () => {
    expect(waitForLockSeconds({})).toBeUndefined();
    expect(waitForLockSeconds({ 'wait-for-lock': '1' })).toBe(1);
    expect(waitForLockSeconds({ 'wait-for-lock': '86400' })).toBe(86_400);
    expect(MAX_LOCK_WAIT_SECONDS).toBe(86_400);
  });

  it.each(['0', '-1', '1.5', '1e3', 'abc', '', ' ', '86401', '0x10', 'Infinity', '30s'])(
    'refuses %j with exit 2',
    (bad) => {
      let thrown: unknown;
      try {
        waitForLockSeconds({ 'wait-for-lock': bad });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({
        exit: 'usage',
        message: `--wait-for-lock must be a whole number of seconds from 1 to 86400, got "${bad}"`,
        hint: 'run: npx zx upgrade.ts --help',
      });
    },
  );
});

describe('the library types (index.d.ts)', () => {
  it('are those of the implementation', () => {
    expectTypeOf<Public.Report>().toEqualTypeOf<Report>();
    expectTypeOf<typeof Public.upgrade>().toEqualTypeOf<typeof Api.upgrade>();
    expectTypeOf<typeof Public.verify>().toEqualTypeOf<typeof Api.verify>();
    expectTypeOf<typeof Public.EXIT>().toEqualTypeOf<typeof EXIT>();
  });
});
