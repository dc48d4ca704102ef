// The ledgers against the files: drizzle's `__drizzle_migrations` against the journal (entry
// by entry, by hash, as DESIGN.md's drizzle step decides), and upkit's legacy ledger against
// legacy-sql/. Pure functions over rows already read; reading is in verify/engine.ts.
import path from 'node:path';
import type { DrizzleMigration, JournalEntry } from '../lib/drizzle/journal.ts';
import type { LegacyManifest } from '../lib/legacy/manifest.ts';
import type { DrizzleLedgerRow } from '../lib/ledger.ts';
import { shellQuote } from '../lib/quote.ts';
import { finding, type VerifyFinding } from './model.ts';
import { plural } from '../lib/plural.ts';

export type { DrizzleLedgerRow };

export interface LegacyLedgerRow {
  file: string;
  checksum: string;
  appliedAt: Date | null;
  method: string;
}

export interface DrizzleLedgerState {
  applied: string[];
  pending: string[];
  findings: VerifyFinding[];
}

export const UPGRADE_HINT = 'run: npx zx upgrade.ts --dry-run';
const short = (hash: string) => hash.slice(0, 12);
const when = (ms: number) => new Date(ms).toISOString();

/**
 * Journal `when` values should increase and lie in the past. drizzle-orm's own migrate() skips
 * an entry older than the newest one applied; upkit decides entry by entry and applies it, so
 * this is a warning about the files (a pending entry is an error of its own).
 */
export function checkJournalOrder(entries: readonly JournalEntry[], journalFile: string, now: number): VerifyFinding[] {
  const out: VerifyFinding[] = [];
  entries.forEach((e, i) => {
    const prev = entries[i - 1];
    if (prev && e.when <= prev.when) {
      out.push(
        finding(
          'ledgers',
          'warning',
          'ledger.journal_order',
          `journal entry ${e.tag} has when ${e.when} (${when(e.when)}), not after ${prev.tag}'s ${prev.when}: ` +
            `drizzle-orm's own migrate() would skip it where ${prev.tag} is applied (upkit applies it)`,
          `before an install upgrades with drizzle-orm alone, give it a "when" later ` +
            `than ${prev.when} in ${journalFile} (or regenerate it: npm run db:generate)`,
        ),
      );
    }
    if (e.when > now + 60_000) {
      out.push(
        finding(
          'ledgers',
          'warning',
          'ledger.journal_future',
          `journal entry ${e.tag} has when ${e.when}, in the future (${when(e.when)})`,
          `check the clock of the machine that generated it, and correct "when" in ${journalFile}`,
        ),
      );
    }
  });
  return out;
}

/**
 * drizzle's ledger against the journal, up to and including entry `upTo`. `rows` is null when
 * the ledger table does not exist.
 */
export function compareDrizzleLedger(
  all: readonly DrizzleMigration[],
  upTo: number,
  rows: readonly DrizzleLedgerRow[] | null,
  ledgerName: string,
): DrizzleLedgerState {
  const findings: VerifyFinding[] = [];
  const byHash = new Map<string, DrizzleLedgerRow[]>();
  for (const r of rows ?? []) byHash.set(r.hash, [...(byHash.get(r.hash) ?? []), r]);
  const newest = Math.max(-Infinity, ...(rows ?? []).map((r) => r.createdAt ?? -Infinity));
  const applied: string[] = [];
  const pending: string[] = [];
  const explained = new Set<number>();

  for (const m of all) {
    const recorded = byHash.get(m.hash);
    if (recorded) {
      for (const r of recorded) explained.add(r.id);
      if (m.idx <= upTo) applied.push(m.tag);
      if (recorded.length > 1) {
        findings.push(
          finding(
            'ledgers',
            'warning',
            'ledger.duplicate',
            `migration ${m.tag} is recorded ${recorded.length} times in ` +
              `${ledgerName} (rows ${recorded.map((r) => r.id).join(', ')})`,
            'harmless for drizzle-orm; nothing to do',
          ),
        );
      }
      continue;
    }
    const edited = (rows ?? []).find(
      (r) => r.createdAt === m.when && !explained.has(r.id) && !all.some((x) => x.hash === r.hash),
    );
    if (edited) {
      explained.add(edited.id);
      if (m.idx <= upTo) applied.push(m.tag);
      const file = path.relative(process.cwd(), m.path) || m.path;
      findings.push(
        finding(
          'ledgers',
          'error',
          'ledger.hash_mismatch',
          `migration ${m.tag} was edited after it was applied: ${path.basename(m.path)}` +
            ` has sha256 ${short(m.hash)}…, ${ledgerName} row ${edited.id} holds ${short(edited.hash)}…`,
          `see the edit with: git diff -- ${shellQuote(file)}; put the file back as it was ` +
            `applied (git checkout -- ${shellQuote(file)}) unless the change is deliberate`,
        ),
      );
      continue;
    }
    if (m.idx > upTo) continue;
    pending.push(m.tag);
    const why =
      rows === null
        ? `${ledgerName} does not exist`
        : m.when < newest
          ? `not in ${ledgerName}; drizzle-orm's own migrate() would skip it, as the ledger holds a later entry`
          : `not in ${ledgerName}`;
    findings.push(
      finding('ledgers', 'error', 'ledger.pending', `migration ${m.tag} is pending (${why})`, UPGRADE_HINT),
    );
  }
  // drizzle's `when` only grows: a row no file knows created at or before the last entry of
  // this journal is not a later migration of this app, but another application's sharing the
  // ledger (or a file removed from this folder).
  const lastWhen = Math.max(-Infinity, ...all.map((m) => m.when));
  for (const r of rows ?? []) {
    if (explained.has(r.id)) continue;
    if (r.createdAt === null || r.createdAt <= lastWhen) {
      findings.push(
        finding(
          'ledgers',
          'warning',
          'ledger.foreign_entry',
          `${ledgerName} row ${r.id} (hash ${short(r.hash)}…, created_at ${r.createdAt ?? 'null'}` +
            `${r.createdAt ? ` = ${when(r.createdAt)}` : ''}) matches no migration of this drizzle folder and is not ` +
            `later than its last entry: another application's migration ` +
            `sharing this ledger, or a file removed from this folder`,
          'nothing to do if another application shares the ledger; give each application its own ' +
            "(drizzle's migrationsSchema/migrationsTable) so that neither one's rows hide the other's",
        ),
      );
      continue;
    }
    findings.push(
      finding(
        'ledgers',
        'error',
        'ledger.unknown_entry',
        `${ledgerName} row ${r.id} (hash ${short(r.hash)}…, ` +
          `created_at ${r.createdAt ?? 'null'}${r.createdAt ? ` = ${when(r.createdAt)}` : ''}) ` +
          `matches no migration of this drizzle folder: the database is ahead of this upkit`,
        'run the verify of the upkit release that applied it, ' +
          'or point --drizzle-dir at the drizzle folder of the app version that runs',
      ),
    );
  }
  return { applied, pending, findings };
}

/** upkit's legacy ledger against the legacy folder; `rows` is null when the table does not exist. */
export function compareLegacyLedger(
  manifest: LegacyManifest,
  rows: readonly LegacyLedgerRow[] | null,
): VerifyFinding[] {
  if (rows === null) {
    return [
      finding(
        'ledgers',
        'info',
        'ledger.legacy_absent',
        'upkit.legacy_migrations does not exist: no legacy file was applied ' +
          'by upkit (a drizzle-era install, or legacy files run by hand)',
      ),
    ];
  }
  const out: VerifyFinding[] = [];
  const files = new Map(
    [...manifest.files, ...(manifest.comprehensive ? [manifest.comprehensive] : [])].map((f) => [f.file, f]),
  );
  for (const r of rows) {
    // A baseline row records a drizzle entry (not a legacy file); drizzle's ledger check covers it.
    if (r.method === 'baseline') continue;
    const f = files.get(r.file);
    const at = r.appliedAt ? ` on ${r.appliedAt.toISOString()}` : '';
    if (!f) {
      out.push(
        finding(
          'ledgers',
          'warning',
          'ledger.legacy_unknown',
          `upkit.legacy_migrations records ${r.file}${at}, which ${manifest.dir} does not have`,
          'point --legacy-dir at the legacy folder of the release that applied it; nothing to do otherwise',
        ),
      );
      continue;
    }
    const fromComprehensive = r.method === 'comprehensive' && manifest.comprehensive?.checksum === r.checksum;
    if (r.checksum !== f.checksum && !fromComprehensive) {
      const file = path.relative(process.cwd(), f.path) || f.path;
      out.push(
        finding(
          'ledgers',
          'warning',
          'ledger.legacy_checksum',
          `legacy file ${r.file} changed since it was applied${at} (checksum ` +
            `${short(r.checksum)}… recorded, ${short(f.checksum)}… now)`,
          `nothing to do if the change is a fix the release notes name; see it with: git log -p -- ${shellQuote(file)}`,
        ),
      );
    }
  }
  const recorded = new Set(rows.filter((r) => r.method !== 'baseline').map((r) => r.file));
  const count = manifest.files.filter((f) => recorded.has(f.file)).length;
  out.push(
    finding(
      'ledgers',
      'info',
      'ledger.legacy',
      `upkit.legacy_migrations records ${count} of ${plural(manifest.files.length, 'legacy file')}` +
        `${recorded.has(manifest.comprehensive?.file ?? '\u0000') ? ' and the comprehensive file' : ''} (` +
        `${plural(rows.length, 'row')}` +
        `${rows.some((r) => r.method === 'baseline') ? ", one of them the baseline of drizzle's first entry" : ''})`,
    ),
  );
  return out;
}
