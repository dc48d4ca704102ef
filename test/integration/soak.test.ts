// A short soak in the normal suite (npm run test:soak runs 200): consecutive no-op upgrades
// and verifies leave no session, lock, temporary file or ledger row behind, and no more log
// files than UPKIT_LOG_KEEP.
import { describe, expect, it } from 'vitest';
import { backupArgs, useFreshDatabase } from '../support/database.ts';
import { prepareSoakDatabase, soak } from '../reliability/soakHarness.ts';

describe('soak', () => {
  const db = useFreshDatabase();

  it('runs no-op upgrades and verifies back to back with nothing growing', { timeout: 180_000 }, async () => {
    await prepareSoakDatabase(db().url, backupArgs());
    const result = await soak({ url: db().url, runs: 6, logKeep: 5 });
    expect(result.problems).toEqual([]);
    expect(result.samples).toHaveLength(12);
    expect(result.samples.every((s) => s.code === 0)).toBe(true);
    // The first upgrade wrote its row; the no-op ones add none.
    expect(result.samples.at(-1)!.runsRows).toBe(result.baseline.runsRows);
    expect(result.baseline.sessions).toBe(0);
    // One log file per run, the newest 5 kept: every run after the fifth deleted the oldest.
    expect(result.samples.map((s) => s.logFiles)).toEqual([1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5]);
  });
});
