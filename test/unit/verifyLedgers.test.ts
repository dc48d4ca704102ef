import { describe, expect, it } from 'vitest';
import type { DrizzleMigration } from '../../lib/drizzle/journal.ts';
import type { LegacyManifest } from '../../lib/legacy/manifest.ts';
import {
  checkJournalOrder,
  compareDrizzleLedger,
  compareLegacyLedger,
  type DrizzleLedgerRow,
} from '../../verify/ledgers.ts';

const m = (idx: number, when: number): DrizzleMigration => ({
  idx,
  tag: `000${idx}_m`,
  when,
  breakpoints: true,
  path: `/app/drizzle/000${idx}_m.sql`,
  text: '',
  hash: `hash${idx}`.padEnd(64, '0'),
  statements: [],
});
const ALL = [m(0, 1000), m(1, 2000), m(2, 3000)];
const row = (id: number, mig: DrizzleMigration, hash = mig.hash): DrizzleLedgerRow => ({
  id,
  hash,
  createdAt: mig.when,
});
const LEDGER = 'drizzle.__drizzle_migrations';
const codes = (r: { findings: Array<{ code: string; message: string }> }) => r.findings.map((f) => [f.code, f.message]);

describe('drizzle ledger against the journal', () => {
  it('is clean when every entry is recorded by hash', () => {
    const r = compareDrizzleLedger(ALL, 2, [row(1, ALL[0]!), row(2, ALL[1]!), row(3, ALL[2]!)], LEDGER);
    expect(r).toEqual({ applied: ['0000_m', '0001_m', '0002_m'], pending: [], findings: [] });
  });

  it('lists pending entries, saying when drizzle-orm itself would skip one', () => {
    expect(codes(compareDrizzleLedger(ALL, 2, [row(1, ALL[0]!), row(2, ALL[1]!)], LEDGER))).toEqual([
      ['ledger.pending', `migration 0002_m is pending (not in ${LEDGER})`],
    ]);
    expect(codes(compareDrizzleLedger(ALL, 2, [row(1, ALL[0]!), row(3, ALL[2]!)], LEDGER))).toEqual([
      [
        'ledger.pending',
        `migration 0001_m is pending (not in ${LEDGER}; drizzle-orm's ` +
          `own migrate() would skip it, as the ledger holds a later entry)`,
      ],
    ]);
    const none = compareDrizzleLedger(ALL, 2, null, LEDGER);
    expect(none.pending).toEqual(['0000_m', '0001_m', '0002_m']);
    expect(
      none.findings.every(
        (f) => f.message.endsWith(`(${LEDGER} does not exist)`) && f.hint === 'run: npx zx upgrade.ts --dry-run',
      ),
    ).toBe(true);
  });

  it('calls an entry whose row has its `when` but another hash an edited file', () => {
    const r = compareDrizzleLedger(ALL, 2, [row(1, ALL[0]!), row(2, ALL[1]!, 'f'.repeat(64)), row(3, ALL[2]!)], LEDGER);
    expect(r.applied).toEqual(['0000_m', '0001_m', '0002_m']);
    expect(codes(r)).toEqual([
      [
        'ledger.hash_mismatch',
        `migration 0001_m was edited after it was applied: ` +
          `0001_m.sql has sha256 hash10000000…, ${LEDGER} row 2 holds ffffffffffff…`,
      ],
    ]);
  });

  it('calls rows the files do not know a database ahead of the code, and notes duplicates', () => {
    const r = compareDrizzleLedger(
      ALL,
      2,
      [
        row(1, ALL[0]!),
        row(2, ALL[1]!),
        row(3, ALL[2]!),
        { id: 4, hash: 'a'.repeat(64), createdAt: 4000 },
        row(5, ALL[0]!),
      ],
      LEDGER,
    );
    expect(r.findings.map((f) => [f.severity, f.code])).toEqual([
      ['warning', 'ledger.duplicate'],
      ['error', 'ledger.unknown_entry'],
    ]);
    expect(r.findings[1]!.message).toBe(
      `${LEDGER} row 4 (hash aaaaaaaaaaaa…, created_at 4000 = 1970-01-01T00:00:04.000Z) ` +
        `matches no migration of this drizzle folder: the database is ahead of this upkit`,
    );
  });

  it('compares only up to the entry asked for, without calling later rows unknown', () => {
    const r = compareDrizzleLedger(ALL, 0, [row(1, ALL[0]!), row(2, ALL[1]!)], LEDGER);
    expect(r).toEqual({ applied: ['0000_m'], pending: [], findings: [] });
  });
});

describe('journal order', () => {
  it('wants increasing `when` values in the past', () => {
    expect(checkJournalOrder(ALL, 'meta/_journal.json', 10_000)).toEqual([]);
    const bad = [m(0, 1000), m(1, 900), m(2, 50_000_000)];
    expect(checkJournalOrder(bad, 'meta/_journal.json', 10_000).map((f) => [f.severity, f.code, f.message])).toEqual([
      [
        'warning',
        'ledger.journal_order',
        "journal entry 0001_m has when 900 (1970-01-01T00:00:00.900Z), not after 0000_m's 1000: " +
          "drizzle-orm's own migrate() would skip it where 0000_m is applied (upkit applies it)",
      ],
      [
        'warning',
        'ledger.journal_future',
        'journal entry 0002_m has when 50000000, in the future (1970-01-01T13:53:20.000Z)',
      ],
    ]);
  });
});

describe('legacy ledger against legacy-sql/', () => {
  const file = (name: string, checksum: string) => ({
    release: 'v1.0',
    file: name,
    path: `/app/legacy-sql/${name}`,
    text: '',
    checksum,
  });
  const manifest: LegacyManifest = {
    dir: '/app/legacy-sql',
    comprehensive: file('comprehensive-upgrade.sql', 'c'.repeat(64)),
    files: [file('upgrade.sql', 'a'.repeat(64)), file('flags.sql', 'b'.repeat(64))],
  };
  const at = new Date('2025-03-01T10:00:00Z');

  it('says so, as a note, when the table does not exist', () => {
    expect(compareLegacyLedger(manifest, null).map((f) => [f.severity, f.code])).toEqual([
      ['info', 'ledger.legacy_absent'],
    ]);
  });

  it('warns about a file changed since it was applied and a file it does not have', () => {
    const rows = [
      { file: 'upgrade.sql', checksum: 'a'.repeat(64), appliedAt: at, method: 'file' },
      { file: 'flags.sql', checksum: 'd'.repeat(64), appliedAt: at, method: 'file' },
      { file: 'old-fix.sql', checksum: 'e'.repeat(64), appliedAt: at, method: 'file' },
    ];
    expect(compareLegacyLedger(manifest, rows).map((f) => [f.severity, f.code, f.message])).toEqual([
      [
        'warning',
        'ledger.legacy_checksum',
        'legacy file flags.sql changed since it was applied on ' +
          '2025-03-01T10:00:00.000Z (checksum dddddddddddd… recorded, bbbbbbbbbbbb… now)',
      ],
      [
        'warning',
        'ledger.legacy_unknown',
        'upkit.legacy_migrations records old-fix.sql on 2025-03-01T10:00:00.000Z, which /app/legacy-sql does not have',
      ],
      ['info', 'ledger.legacy', 'upkit.legacy_migrations records 2 of 2 legacy files (3 rows)'],
    ]);
  });

  it("leaves the baseline row of drizzle's first entry to the drizzle ledger check", () => {
    const rows = [
      { file: 'upgrade.sql', checksum: 'a'.repeat(64), appliedAt: at, method: 'comprehensive' },
      { file: '0000_init', checksum: 'f'.repeat(64), appliedAt: at, method: 'baseline' },
    ];
    expect(compareLegacyLedger(manifest, rows).map((f) => [f.severity, f.code, f.message])).toEqual([
      [
        'info',
        'ledger.legacy',
        'upkit.legacy_migrations records 1 of 2 legacy files (2 rows, ' +
          "one of them the baseline of drizzle's first entry)",
      ],
    ]);
  });

  it('accepts rows the comprehensive file wrote with its own checksum', () => {
    const rows = manifest.files.map((f) => ({
      file: f.file,
      checksum: 'c'.repeat(64),
      appliedAt: at,
      method: 'comprehensive',
    }));
    expect(compareLegacyLedger(manifest, rows).map((f) => f.code)).toEqual(['ledger.legacy']);
  });
});
