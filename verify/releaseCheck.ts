// Which release the database is at: for a profile with release probes (Pulse) by the catalog
// probes of lib/release.ts (so an install without a ledger is still recognised), for another
// app by its drizzle ledger.
import { detectRelease, type CatalogFacts } from '../lib/release.ts';
import type { DrizzleLedgerRow, DrizzleLedgerState } from './ledgers.ts';
import { UPGRADE_HINT } from './ledgers.ts';
import { finding, type ActualSchema, type VerifyFinding } from './model.ts';
import { releaseName, type Profile } from '../lib/profileTypes.ts';
import type { DrizzleMigration, JournalEntry } from '../lib/drizzle/journal.ts';
import { plural } from '../lib/plural.ts';

export interface ReleaseResult {
  /** The release (Pulse) or last applied journal tag (another app); null when none. */
  detected: string | null;
  /** The latest release, or the journal entry compared with. */
  expected: string | null;
  evidence: string[];
}

/** The names lib/release.ts probes for, taken from a catalog already read (no extra query). */
export function catalogFacts(catalog: ActualSchema, rows: readonly DrizzleLedgerRow[] | null): CatalogFacts {
  const tables = catalog.tables.filter((t) => t.schema === 'public');
  return {
    tables: new Set(tables.map((t) => t.name)),
    columns: new Set(tables.flatMap((t) => t.columns.map((c) => `${t.name}.${c.name}`))),
    indexes: new Set(tables.flatMap((t) => t.indexes.map((i) => i.name))),
    constraints: new Set(
      tables.flatMap((t) => [
        ...(t.primaryKey ? [t.primaryKey.name] : []),
        ...t.uniques.map((u) => u.name),
        ...t.foreignKeys.map((f) => f.name),
        ...t.checks.map((c) => c.name),
      ]),
    ),
    enums: new Set(catalog.enums.filter((e) => e.schema === 'public').map((e) => e.name)),
    drizzleHashes: new Set((rows ?? []).map((r) => r.hash)),
  };
}

const brief = (line: string) => (line.length > 160 ? `${line.slice(0, 157)}…` : line);

export function releaseFindings(
  catalog: ActualSchema,
  rows: readonly DrizzleLedgerRow[] | null,
  files: { migrations: readonly DrizzleMigration[]; entry: JournalEntry },
  drizzle: Pick<DrizzleLedgerState, 'applied' | 'pending'>,
  profile: Profile | undefined,
): { findings: VerifyFinding[]; result: ReleaseResult } {
  const probes = profile?.releaseProbes;
  if (!profile || !probes || profile.latestRelease === null) {
    const last = drizzle.applied.at(-1) ?? null;
    const message =
      `${drizzle.applied.length} of ${plural(drizzle.applied.length + drizzle.pending.length, 'migration')}` +
      ` applied${last ? `, the last ${last}` : ''}; comparing with ${files.entry.tag}`;
    return {
      findings: [finding('ledgers', 'info', 'ledger.release', message)],
      result: { detected: last, expected: files.entry.tag, evidence: [] },
    };
  }
  const tagHashes = new Map(files.migrations.map((m) => [m.tag, m.hash]));
  const detection = detectRelease(catalogFacts(catalog, rows), probes, tagHashes);
  const latest = profile.latestRelease;
  const name = profile.label ?? profile.name;
  const result: ReleaseResult = { detected: detection.release, expected: latest, evidence: detection.evidence };
  const findings: VerifyFinding[] = [];
  if (detection.release === latest) {
    findings.push(
      finding('ledgers', 'info', 'ledger.release', `${releaseName(profile, detection.release)}, the latest release`),
    );
  } else {
    const behind = detection.evidence.filter((e) => !/: present$/.test(e)).map(brief);
    const at = detection.release
      ? `at ${releaseName(profile, detection.release)}`
      : `at no ${name} release (empty or not a ${name} database?)`;
    findings.push(
      finding(
        'ledgers',
        'warning',
        'ledger.release',
        `the database is ${at}, the latest is ${latest}; ${behind.join('; ')}`,
        UPGRADE_HINT,
      ),
    );
  }
  if (detection.ahead.length) {
    findings.push(
      finding(
        'ledgers',
        'warning',
        'ledger.release_ahead',
        `objects of later releases are present: ${detection.ahead.map(brief).join('; ')}`,
        `a partial upgrade or hand edits; ${UPGRADE_HINT} shows what an upgrade would do`,
      ),
    );
  }
  return { findings, result };
}
