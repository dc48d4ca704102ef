// The plan: a pure function of what was read from the database (Inspection) and the files
// (Content). It decides every step before anything is written; --dry-run prints it,
// --json emits it, and apply() consumes exactly this object.
import type { Content } from './content.ts';
import type { DrizzleMigration } from './drizzle/journal.ts';
import type { LegacyFile } from './legacy/manifest.ts';
import type { DrizzleLedgerRow, LegacyLedgerRow, RunRow } from './ledger.ts';
import { blocking, lintRun, type LintFile, type LintFinding, type LiveCatalog } from './lint.ts';
import { shellQuote } from './quote.ts';
import type { Detection } from './release.ts';
import { plural } from './plural.ts';
import { repeatableKey } from './repeatable/files.ts';
import { migrationSegments, statementText, type ParsedStatement } from './sql/statements.ts';
import { repeatableReason, type RepeatableState } from './repeatable/state.ts';

export const PLAN_VERSION = 1;

export interface Inspection {
  server: { version: string; major: number };
  database: string;
  detection: Detection;
  drizzleLedger: DrizzleLedgerRow[] | null;
  legacyLedger: LegacyLedgerRow[] | null;
  /** `tag:hash:part` of migration parts applied by an earlier, unfinished run. */
  parts: Set<string>;
  runs: RunRow[] | null;
  /**
   * Live schema against the snapshot of drizzle's first entry (Pulse's v1.4/v2.0 schema): differences, [] when equal;
   * null when not compared.
   */
  baselineDifferences: string[] | null;
  /** Tables (`schema.name`) that hold at least one row, or may (this role cannot read them). */
  tablesWithRows: Set<string>;
  /** Every relation, type and schema, for the lint: what exists when the plan is made. */
  live: LiveCatalog;
  /** Where unqualified names go: the schema upkit's sessions pin search_path to. */
  schema: string;
  /** The schemas of the sessions' search_path, in order ("$user" read as the role): where unqualified names resolve. */
  searchPath: string[];
  /** Seed rows missing at the latest release (Pulse only); 0 when nothing to seed. */
  seedGaps: number;
  /** Whether no schema of the sessions' search_path (public for Pulse) holds any table at all. */
  empty: boolean;
  /** Where each repeatable file stands (lib/repeatable/state.ts); none when the profile has none. */
  repeatable?: RepeatableState[];
}

export interface LegacyRef {
  file: string;
  release: string;
  checksum: string;
}

export type PlanStep =
  | { kind: 'legacy'; comprehensive: LegacyRef | null; files: LegacyRef[]; reason: string }
  | { kind: 'baseline'; tag: string; hash: string; when: number; reason: string }
  | {
      kind: 'drizzle';
      tag: string;
      hash: string;
      when: number;
      statements: number;
      outsideTransaction: number;
      resumes: string[];
      outOfOrder: boolean;
    }
  | { kind: 'seed'; release: string; gaps: number }
  /** A repeatable file, in one transaction with its ledger row; `reason` says why it applies. */
  | {
      kind: 'repeatable';
      file: string;
      checksum: string;
      reason: 'new' | 'changed' | 'missing' | 'migrations';
      detail: string;
    };

export interface Problem {
  code: string;
  message: string;
  hint: string;
  /** A refusal caused by the command line: exit 2 instead of 3. */
  usage?: boolean;
}

export interface Plan {
  version: typeof PLAN_VERSION;
  /** The profile's name (`pulse`, `app`). */
  profile: string;
  database: string;
  from: string | null;
  to: string | null;
  detection: Detection;
  steps: PlanStep[];
  lint: LintFinding[];
  /** Any refusal stops the run before anything changes (exit 3). */
  refusals: Problem[];
  warnings: Problem[];
  /** No schema of the sessions' search_path (public for Pulse) held a table when the plan was made. */
  databaseEmpty: boolean;
  /**
   * Who backs the database up before the first change: `upkit` (a verified pg_dump), the
   * `operator` (`--no-backup`: their own snapshot replaces upkit's backup), or `none` (nothing
   * will change, or a fresh install on an empty database).
   */
  backup: BackupBy;
}

export type BackupBy = 'upkit' | 'operator' | 'none';

export interface PlanOptions {
  /**
   * Destructive statements the operator accepts: all (`--allow-destructive`), none, or
   * those of the named migrations or files (`--allow-destructive=TAG,…`).
   */
  allowDestructive: boolean | readonly string[];
  latestRelease: string | null;
  now: number;
  /** `--no-backup`: the operator's own snapshot replaces upkit's backup. */
  noBackup?: boolean;
  /** A fresh install: an empty database has nothing to back up. */
  skipBackupWhenEmpty?: boolean;
}

function ref(f: LegacyFile): LegacyRef {
  return { file: f.file, release: f.release, checksum: f.checksum };
}

export function isEmptyPlan(plan: Plan): boolean {
  return plan.steps.length === 0;
}

/** Which journal entries are applied, edited after applying, or unknown to the files. */
export function compareLedger(migrations: readonly DrizzleMigration[], ledger: readonly DrizzleLedgerRow[]) {
  const byHash = new Set(ledger.map((r) => r.hash));
  const fileHashes = new Set(migrations.map((m) => m.hash));
  const applied = migrations.filter((m) => byHash.has(m.hash));
  const foreign = ledger.filter((r) => !fileHashes.has(r.hash));
  // A row whose created_at is an entry's `when` but whose hash differs: that file changed.
  const edited = migrations.filter((m) => !byHash.has(m.hash) && foreign.some((r) => r.createdAt === m.when));
  const unmatched = foreign.filter((r) => !migrations.some((m) => m.when === r.createdAt));
  // drizzle's `when` only grows: a row created after the journal's last entry is a later
  // migration (the database is ahead of these files); one created at or before it is another
  // application's sharing the ledger, or a file removed from this folder (verify's rule too).
  const lastWhen = Math.max(-Infinity, ...migrations.map((m) => m.when));
  const unknown = unmatched.filter((r) => r.createdAt !== null && r.createdAt > lastWhen);
  const shared = unmatched.filter((r) => !unknown.includes(r));
  const pending = migrations.filter((m) => !byHash.has(m.hash) && !edited.includes(m));
  return { applied, edited, unknown, shared, pending };
}

/** What the plan refuses (any one stops the run before anything changes) and warns of, in the order found. */
interface Problems {
  refusals: Problem[];
  warnings: Problem[];
}

export function plan(inspection: Inspection, content: Content, options: PlanOptions): Plan {
  const problems: Problems = { refusals: [], warnings: [] };
  const { detection } = inspection;
  const ledger = inspection.drizzleLedger ?? [];
  const comparison = compareLedger(content.migrations, ledger);
  ledgerProblems(comparison, problems);
  journalProblems(content.migrations, options.now, problems);

  const legacy = legacySteps(inspection, content);
  const steps: PlanStep[] = [...legacy.steps];
  steps.push(...drizzleSteps(comparison.pending, legacy.baseline, inspection, content, ledger, problems));
  if (content.profile.seed && (steps.length > 0 || inspection.seedGaps > 0)) {
    steps.push({ kind: 'seed', release: options.latestRelease ?? '', gaps: inspection.seedGaps });
  }
  problems.refusals.push(...repeatableSteps(steps, inspection, content));

  const lint = lintPlan(steps, inspection, content, options.allowDestructive);
  const misnamed = acceptanceProblems(steps, content, lint, options.allowDestructive);
  problems.refusals.unshift(...misnamed);
  // A misnamed tag's hint already names the tags to accept.
  if (misnamed.length === 0) problems.refusals.push(...destructiveRefusal(lint));
  for (const a of detection.ahead)
    problems.warnings.push({
      code: 'release.partial',
      message: `objects of a later release found: ${a}`,
      hint: 'the upgrade completes what is missing; hand-made objects are kept',
    });

  return {
    version: PLAN_VERSION,
    profile: content.profile.name,
    database: inspection.database,
    from: detection.release,
    to: steps.length ? options.latestRelease : detection.release,
    detection,
    steps,
    lint,
    refusals: problems.refusals,
    warnings: problems.warnings,
    databaseEmpty: inspection.empty,
    backup: backupBy(steps, inspection, options),
  };
}

/**
 * Who backs the database up: nobody when nothing changes or a fresh install finds it empty; the
 * operator with --no-backup; else upkit.
 */
function backupBy(steps: readonly PlanStep[], inspection: Inspection, options: PlanOptions): BackupBy {
  if (steps.length === 0 || (options.skipBackupWhenEmpty && inspection.empty)) return 'none';
  return options.noBackup ? 'operator' : 'upkit';
}

/**
 * drizzle's ledger against the files: an applied file edited since, or a row newer than the
 * journal (a later release's), refuses the run; rows older than the journal's last entry that
 * match no file (another application's, or a removed file) only warn.
 */
function ledgerProblems(comparison: ReturnType<typeof compareLedger>, problems: Problems): void {
  const { edited, unknown, shared } = comparison;
  if (shared.length) {
    problems.warnings.push({
      code: 'ledger.foreign_entry',
      message:
        `drizzle's ledger has ${plural(shared.length, 'row')} no migration of this folder matches, ` +
        `created before its last entry (created_at ${shared.map((r) => r.createdAt).join(', ')}` +
        `): another application's migrations sharing the ledger, or files removed from this folder`,
      hint:
        'nothing to do if another application shares the ledger; give each application its own ' +
        "(drizzle's migrationsSchema/migrationsTable) so that neither one's rows hide the other's",
    });
  }
  for (const m of edited) {
    problems.refusals.push({
      code: 'ledger.hash_mismatch',
      message: `${m.tag}.sql was changed after it was applied: its sha256 no longer matches drizzle's ledger`,
      hint:
        `put ${shellQuote(m.path)} back as it was released (or undo the edit), ` +
        `then run the upgrade again; nothing was changed`,
    });
  }
  if (unknown.length) {
    problems.refusals.push({
      code: 'ledger.unknown_entry',
      message:
        `the database records ${plural(unknown.length, 'migration')} these files do not have (created_at ` +
        `${unknown.map((r) => r.createdAt).join(', ')}): it is newer than this upkit's content`,
      hint:
        'run the upkit release that matches the database (or restore ' +
        'a backup taken before that release); nothing was changed',
    });
  }
}

/** The journal itself: two entries with one `when` (drizzle cannot tell them apart) refuse; one in the future warns. */
function journalProblems(migrations: readonly DrizzleMigration[], now: number, problems: Problems): void {
  const firstWith = new Map<number, string>();
  for (const m of migrations) {
    const other = firstWith.get(m.when);
    if (other === undefined) {
      firstWith.set(m.when, m.tag);
      continue;
    }
    problems.refusals.push({
      code: 'journal.duplicate_when',
      message:
        `journal entries ${other} and ${m.tag} share the same ` +
        `\`when\` (${m.when}), so drizzle could not tell them apart`,
      hint:
        'give each entry its own `when` (regenerate the migrations ' +
        'with drizzle-kit: npm run db:generate); nothing was changed',
    });
  }
  for (const m of migrations) {
    if (m.when > now)
      problems.warnings.push({
        code: 'journal.future_when',
        message: `${m.tag} has a \`when\` in the future (${new Date(m.when).toISOString()})`,
        hint: 'check the clock of the machine that generated it',
      });
  }
}

/**
 * A legacy era (Pulse's): a database below its end (or at it but not matching it) without
 * drizzle's ledger is brought to the end by the legacy files not yet recorded, then baselined:
 * drizzle's first entry recorded as applied without running it. `baseline` whenever such a
 * database has no drizzle ledger (one at the era's end only needs the baseline).
 */
function legacySteps(inspection: Inspection, content: Content): { steps: PlanStep[]; baseline: boolean } {
  const { detection } = inspection;
  const era = content.profile.legacy;
  if (!era || !content.legacy || inspection.drizzleLedger !== null || inspection.empty)
    return { steps: [], baseline: false };
  const steps: PlanStep[] = [];
  const below = detection.release === null || era.before.includes(detection.release);
  const mismatched = detection.release === era.end && (inspection.baselineDifferences?.length ?? 0) > 0;
  if (below || mismatched) {
    const recorded = new Set((inspection.legacyLedger ?? []).map((r) => `${r.file}:${r.checksum}`));
    const files = content.legacy.files.filter((f) => !recorded.has(`${f.file}:${f.checksum}`)).map(ref);
    steps.push({
      kind: 'legacy',
      comprehensive: content.legacy.comprehensive ? ref(content.legacy.comprehensive) : null,
      files,
      reason: below
        ? `detected ${detection.release ?? 'no release'}: the legacy files bring it to ${era.end}`
        : `at ${era.end} but not matching its schema (${inspection.baselineDifferences!.slice(0, 3).join('; ')}` +
          `): the idempotent legacy files fill the gaps`,
    });
  }
  const first = content.migrations[0];
  if (first) {
    steps.push({
      kind: 'baseline',
      tag: first.tag,
      hash: first.hash,
      when: first.when,
      reason:
        `the database already has everything ${first.tag} creates; it is recorded ` +
        `as applied without running it, after comparing the catalog with its snapshot`,
    });
  }
  return { steps, baseline: true };
}

/**
 * The pending journal entries, in journal order (the first one skipped when it is baselined):
 * each with the parts an unfinished run already applied, refused when it controls the
 * transaction in a way upkit does not run, and flagged when it is older than the newest
 * applied entry (drizzle's migrator would skip it; upkit applies it).
 */
function drizzleSteps(
  pending: readonly DrizzleMigration[],
  baseline: boolean,
  inspection: Inspection,
  content: Content,
  ledger: readonly DrizzleLedgerRow[],
  problems: Problems,
): PlanStep[] {
  const steps: PlanStep[] = [];
  const first = content.migrations[0];
  const newestApplied = Math.max(0, ...ledger.map((r) => r.createdAt ?? 0));
  for (const m of pending) {
    if (baseline && m === first) continue;
    const stmts = content.statements.get(m.tag) ?? [];
    steps.push({
      kind: 'drizzle',
      tag: m.tag,
      hash: m.hash,
      when: m.when,
      statements: stmts.length,
      outsideTransaction: stmts.filter((s) => !s.transactional).length,
      resumes: [...inspection.parts]
        .filter((k) => k.startsWith(`${m.tag}:${m.hash}:`))
        .map((k) => k.split(':').slice(2).join(':')),
      outOfOrder: m.when < newestApplied,
    });
    const control = unsupportedTransactionControl(stmts);
    if (control) problems.refusals.push(transactionControlRefusal(m, control));
    if (m.when < newestApplied)
      problems.warnings.push({
        code: 'ledger.out_of_order',
        message:
          `${m.tag} is older than the newest applied migration and was never applied; ` +
          `drizzle's own migrator would skip it, upkit applies it`,
        hint: 'nothing to do',
      });
  }
  return steps;
}

/** The destructive statements nobody accepted, as one refusal whose hint names the tags to accept. */
function destructiveRefusal(lint: readonly LintFinding[]): Problem[] {
  const destructive = blocking(lint);
  if (!destructive.length) return [];
  const tags = [...new Set(destructive.map((f) => tagOf(f.file)))];
  return [
    {
      code: 'lint.destructive',
      message:
        `${plural(destructive.length, 'destructive statement')} pending: ` +
        `${destructive.map((f) => `${f.file}:${f.line} ${f.message}`).join('; ')}`,
      hint:
        `review them; if they are intended, run again with ${shellQuote(`--allow-destructive=${tags.join(',')}`)}` +
        ` (a backup is taken first); nothing was changed`,
    },
  ];
}

/** The statements of the plan's steps in the order they run, as the lint reads them. */
function lintFiles(steps: readonly PlanStep[], content: Content): LintFile[] {
  const files: LintFile[] = [];
  for (const step of steps) {
    if (step.kind === 'drizzle')
      files.push({ file: `${step.tag}.sql`, statements: content.statements.get(step.tag) ?? [] });
    if (step.kind === 'repeatable')
      files.push({
        file: repeatableKey(step.file),
        statements: content.statements.get(repeatableKey(step.file)) ?? [],
      });
    // comprehensive-upgrade.sql stands for the legacy files.
    if (step.kind === 'legacy')
      for (const f of step.comprehensive ? [step.comprehensive] : step.files)
        files.push({ file: f.file, statements: content.statements.get(f.file) ?? [] });
  }
  return files;
}

/** A finding's file as the operator names it in --allow-destructive=TAG: the journal tag, or the legacy file. */
function tagOf(file: string): string {
  return file.replace(/\.sql$/, '');
}

/** The lint over the whole pending run, each finding marked with who accepted it. */
function lintPlan(
  steps: readonly PlanStep[],
  inspection: Inspection,
  content: Content,
  allow: PlanOptions['allowDestructive'],
): LintFinding[] {
  const context = {
    tableHasRows: (t: string) => (inspection.live.tables.has(t) ? inspection.tablesWithRows.has(t) : false),
    live: inspection.live,
    schema: inspection.schema,
    searchPath: inspection.searchPath,
  };
  const tags = new Set(Array.isArray(allow) ? allow.map(tagOf) : []);
  return lintRun(lintFiles(steps, content), context).map((f) => {
    if (f.accepted) return f;
    if (allow === true) return { ...f, accepted: true, acceptedBy: '--allow-destructive' };
    if (tags.has(tagOf(f.file))) return { ...f, accepted: true, acceptedBy: '--allow-destructive=TAG' };
    return f;
  });
}

/**
 * `--allow-destructive=TAG,…` names only pending files with a finding nobody else accepted:
 * a typo, or a tag that has nothing to accept, is a usage error rather than silence. Known
 * once every pending file is parsed (the plan is made again after parsing them).
 */
function acceptanceProblems(
  steps: readonly PlanStep[],
  content: Content,
  lint: readonly LintFinding[],
  allow: PlanOptions['allowDestructive'],
): Problem[] {
  if (!Array.isArray(allow)) return [];
  const files = lintFiles(steps, content);
  const pending = new Set(files.map((f) => tagOf(f.file)));
  const parsed = files.every((f) => content.statements.has(tagOf(f.file)) || content.statements.has(f.file));
  const withFindings = [...new Set(lint.filter((f) => f.acceptedBy !== 'upkit:safe').map((f) => tagOf(f.file)))];
  const paste = withFindings.length
    ? `run again with ${shellQuote(`--allow-destructive=${withFindings.join(',')}`)}`
    : 'run again without --allow-destructive';
  const problems: Problem[] = [];
  for (const tag of allow.map(tagOf)) {
    if (!pending.has(tag)) {
      problems.push({
        code: 'lint.accept_unknown',
        usage: true,
        message:
          `--allow-destructive names ${tag}, which is not a pending migration` +
          `${pending.size ? ` (pending: ${[...pending].join(', ')})` : ' (nothing is pending)'}`,
        hint: `${paste}; nothing was changed`,
      });
    } else if (parsed && !withFindings.includes(tag)) {
      problems.push({
        code: 'lint.accept_nothing',
        usage: true,
        message: `--allow-destructive names ${tag}, which has no destructive statement to accept`,
        hint: `${paste}; nothing was changed`,
      });
    }
  }
  return problems;
}

/**
 * A statement that controls the transaction other than BEGIN and COMMIT (ROLLBACK, SAVEPOINT, PREPARE TRANSACTION, …),
 * if the file holds one.
 */
export function unsupportedTransactionControl(statements: readonly ParsedStatement[]): ParsedStatement | undefined {
  return migrationSegments(statements)?.unsupported;
}

/** Refused in the plan, read-only: upkit follows a migration's own BEGIN and COMMIT in file order, and nothing else. */
export function transactionControlRefusal(
  { tag, path: file }: Pick<DrizzleMigration, 'tag' | 'path'>,
  s: ParsedStatement,
): Problem {
  const first = s.sql.trim().split('\n')[0]!.slice(0, 80);
  return {
    code: 'drizzle.transaction_control',
    message:
      `${tag}.sql:${s.line}: ${first} controls the transaction in a way ` +
      `upkit does not run (only BEGIN and COMMIT are followed, in file order)`,
    hint:
      `remove it from ${shellQuote(file)} (or apply ${tag} by hand and record it: ` +
      `npx zx scripts/mark.ts --help), then run the upgrade again; nothing was changed`,
  };
}

/**
 * The repeatable files to apply, after the migrations and the seed data, in name order: those
 * new, changed, or missing an object they define; and, when this run applies migrations, every
 * other one too (a migration may drop what a view or policy depends on, or add a table a grant
 * on every table of a schema is meant to cover). A file waiting for a role is left out. A file
 * that opens or ends transactions itself (or runs what PostgreSQL refuses in one) is refused:
 * each file runs in one transaction, with its ledger row.
 */
function repeatableSteps(steps: PlanStep[], inspection: Inspection, content: Content): Problem[] {
  const migrations = steps.some((s) => s.kind === 'drizzle' || s.kind === 'legacy' || s.kind === 'baseline');
  const problems: Problem[] = [];
  for (const r of inspection.repeatable ?? []) {
    if (r.status === 'waiting' || (r.status === 'applied' && !migrations)) continue;
    const reason = r.status === 'applied' ? 'migrations' : r.status;
    steps.push({
      kind: 'repeatable',
      file: r.file,
      checksum: r.checksum,
      reason,
      detail: reason === 'migrations' ? "applied; again after this run's migrations" : repeatableReason(r),
    });
    const control = (content.statements.get(repeatableKey(r.file)) ?? []).find(
      (s) => s.kind === 'TransactionStmt' || !s.transactional,
    );
    if (control) {
      const first = statementText(control).split('\n')[0]!.trim().slice(0, 80);
      problems.push({
        code: 'repeatable.transaction_control',
        message:
          `${repeatableKey(r.file)}:${control.line}: ${first}: a repeatable file runs ` +
          `in one transaction upkit opens (with its ledger row), so it may not begin, ` +
          `end or split transactions itself, nor run what PostgreSQL refuses inside one`,
        hint:
          `remove that statement from ${shellQuote(r.path)} (upkit commits the ` +
          `file as a whole), then run the upgrade again; nothing was changed`,
      });
    }
    // A setting changed for the session outlives the file's transaction: later files, the
    // ledger and verification would run with it (another search_path, role or timeout).
    const setting = (content.statements.get(repeatableKey(r.file)) ?? []).find(
      (s) =>
        s.kind === 'DiscardStmt' ||
        (s.kind === 'VariableSetStmt' && s.node.is_local !== true && s.node.kind !== 'VAR_SET_MULTI'),
    );
    if (setting) {
      const first = statementText(setting).split('\n')[0]!.trim().slice(0, 80);
      problems.push({
        code: 'repeatable.session_setting',
        message:
          `${repeatableKey(r.file)}:${setting.line}: ${first}: a setting changed for the whole ` +
          `session would outlast the file's transaction, for the files after it and for verification`,
        hint:
          `use SET LOCAL (it ends with the file's transaction) ` +
          `in ${shellQuote(r.path)}, then run the upgrade again; nothing was changed`,
      });
    }
  }
  return problems;
}
