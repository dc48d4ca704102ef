// plan() is a pure function of an Inspection (what was read from the database) and Content
// (the files): these tables give it both, built by the small builders below, and check the
// steps, refusals and warnings it decides. No database: the statements are parsed with the
// real PostgreSQL parser, as a run parses them.
import { describe, expect, it } from 'vitest';
import { type Content, filesToRun, loadContent, parseFiles } from '../../lib/content.ts';
import { BREAKPOINT, type DrizzleMigration } from '../../lib/drizzle/journal.ts';
import type { DrizzleLedgerRow } from '../../lib/ledger.ts';
import { sha256 } from '../../lib/legacy/manifest.ts';
import { compareLedger, type Inspection, type Plan, type PlanOptions, type PlanStep, plan } from '../../lib/plan.ts';
import type { Detection } from '../../lib/release.ts';
import { repeatableKey } from '../../lib/repeatable/files.ts';
import type { RepeatableState, RepeatableStatus } from '../../lib/repeatable/state.ts';
import { parseSqlFile } from '../../lib/sql/statements.ts';
import { pulseProfile } from '../../profiles/pulse.ts';

/** Later than every `when` of the journals below: none is in the future unless a row says so. */
const NOW = Date.parse('2030-01-01T00:00:00Z');

// ---- builders ------------------------------------------------------------------------------

function detected(release: string | null, ahead: string[] = []): Detection {
  return { release, evidence: [], ahead };
}

/** An Inspection of a database with nothing in it; each row overrides what it is about. */
function inspection(over: Partial<Inspection> = {}): Inspection {
  return {
    server: { version: '15.18', major: 15 },
    database: 'pulse',
    detection: detected(null),
    drizzleLedger: null,
    legacyLedger: null,
    parts: new Set(),
    runs: null,
    baselineDifferences: [],
    tablesWithRows: new Set(),
    live: { relations: new Set(), tables: new Set(), types: new Set(), schemas: new Set(['public']), holdsData: false },
    schema: 'public',
    searchPath: ['public'],
    seedGaps: 0,
    empty: true,
    ...over,
  };
}

/** The live catalog of tables in `public`; those in `filled` hold rows. */
function tables(all: string[], filled: string[] = []): Pick<Inspection, 'live' | 'tablesWithRows' | 'empty'> {
  const q = (t: string) => `public.${t}`;
  return {
    live: {
      relations: new Set(all.map(q)),
      tables: new Set(all.map(q)),
      types: new Set(),
      schemas: new Set(['public']),
      holdsData: filled.length > 0,
    },
    tablesWithRows: new Set(filled.map(q)),
    empty: all.length === 0,
  };
}

/** drizzle's ledger rows for `tags` of `content`, as drizzle-orm records them (hash, created_at = `when`). */
function applied(content: Content, tags: string[]): DrizzleLedgerRow[] {
  return tags.map((tag, i) => {
    const m = content.migrations.find((x) => x.tag === tag);
    if (!m) throw new Error(`no migration ${tag}`);
    return { id: i + 1, hash: m.hash, createdAt: m.when };
  });
}

/** A journal entry of an app, its file's text `sql` (statements split by drizzle's breakpoint). */
function migration(idx: number, tag: string, when: number, sql: string): DrizzleMigration {
  return {
    idx,
    tag,
    when,
    breakpoints: true,
    path: `/srv/app/drizzle/${tag}.sql`,
    text: sql,
    hash: sha256(sql),
    statements: sql.split(BREAKPOINT),
  };
}

/** An app's content (no legacy era, no seed data): its journal in order. */
function app(migrations: DrizzleMigration[]): Content {
  return {
    profile: { name: 'app', drizzleDir: '/srv/app/drizzle', latestRelease: migrations.at(-1)?.tag ?? null },
    drizzleDir: '/srv/app/drizzle',
    migrations,
    legacy: null,
    statements: new Map(),
  };
}

function pulse(): Content {
  return loadContent(pulseProfile());
}

const PULSE_TAGS = ['0000_init', '0001_api_keys', '0002_audit_logs', '0003_integration_status_enum'];
const LEGACY_FILES = [
  'upgrade.sql',
  'feature-flags-migration.sql',
  'rbac-permissions-fix.sql',
  'email-case-insensitive-fix.sql',
  'discovery-migration.sql',
];

/** The plan as a run makes it: once for the steps, then again once the files they run are parsed (and linted). */
async function planOf(i: Inspection, content: Content, options: Partial<PlanOptions> = {}): Promise<Plan> {
  const o: PlanOptions = {
    allowDestructive: false,
    latestRelease: content.profile.latestRelease,
    now: NOW,
    ...options,
  };
  await parseFiles(content, filesToRun(plan(i, content, o).steps));
  return plan(i, content, o);
}

/** A step in one short line: `legacy upgrade.sql,…`, `baseline 0000_init`, `drizzle 0001_x`, `seed v2.3`. */
function stepLine(s: PlanStep): string {
  switch (s.kind) {
    case 'legacy':
      return `legacy ${s.files.map((f) => f.file).join(',')}`;
    case 'baseline':
    case 'drizzle':
      return `${s.kind} ${s.tag}`;
    case 'seed':
      return `seed ${s.release}`;
    case 'repeatable':
      return `repeatable ${s.file}`;
  }
}

/** What a row of a table states about a plan. */
interface Expected {
  steps: string[];
  from?: string | null;
  to?: string | null;
  backup?: Plan['backup'];
  refusals?: string[];
  warnings?: string[];
}

function facts(p: Plan, want: Expected) {
  return {
    steps: p.steps.map(stepLine),
    ...('from' in want ? { from: p.from } : {}),
    ...('to' in want ? { to: p.to } : {}),
    ...('backup' in want ? { backup: p.backup } : {}),
    refusals: p.refusals.map((r) => r.code),
    warnings: p.warnings.map((w) => w.code),
  };
}

function expected(want: Expected) {
  return { refusals: [], warnings: [], ...want };
}

// ---- Pulse: each release, legacy and drizzle --------------------------------------------

const upToV23 = (from: number) => PULSE_TAGS.slice(from).map((t) => `drizzle ${t}`);

const pulseRows: {
  name: string;
  inspection: (c: Content) => Inspection;
  options?: Partial<PlanOptions>;
  want: Expected;
}[] = [
  {
    name: 'an empty database: every journal entry, then the seed data; upkit backs it up',
    inspection: () => inspection(),
    want: { steps: [...upToV23(0), 'seed v2.3'], from: null, to: 'v2.3', backup: 'upkit' },
  },
  {
    name: 'an empty database on a fresh install: nothing to back up',
    inspection: () => inspection(),
    options: { skipBackupWhenEmpty: true },
    want: { steps: [...upToV23(0), 'seed v2.3'], to: 'v2.3', backup: 'none' },
  },
  ...['v1.0', 'v1.1', 'v1.2', 'v1.3'].map((release) => ({
    name: `legacy ${release}: the legacy files, the baseline of 0000, the later entries, the seed data`,
    inspection: () => inspection({ detection: detected(release), empty: false }),
    want: {
      steps: [`legacy ${LEGACY_FILES.join(',')}`, 'baseline 0000_init', ...upToV23(1), 'seed v2.3'],
      from: release,
      to: 'v2.3',
      backup: 'upkit' as const,
    },
  })),
  {
    name: 'a database below the legacy era with no release detected (but tables): the legacy files too',
    inspection: () => inspection({ detection: detected(null), empty: false }),
    want: { steps: [`legacy ${LEGACY_FILES.join(',')}`, 'baseline 0000_init', ...upToV23(1), 'seed v2.3'] },
  },
  {
    name: 'legacy v1.2 whose legacy ledger records the first two files: only the others run',
    inspection: (c) =>
      inspection({
        detection: detected('v1.2'),
        empty: false,
        legacyLedger: c.legacy!.files.slice(0, 2).map((f) => ({
          file: f.file,
          checksum: f.checksum,
          method: 'file' as const,
          appliedAt: new Date(0),
        })),
      }),
    want: { steps: [`legacy ${LEGACY_FILES.slice(2).join(',')}`, 'baseline 0000_init', ...upToV23(1), 'seed v2.3'] },
  },
  {
    name: 'legacy v1.2 whose ledger records a file with another checksum: that file runs again',
    inspection: (c) =>
      inspection({
        detection: detected('v1.2'),
        empty: false,
        legacyLedger: [
          { file: c.legacy!.files[0]!.file, checksum: 'f'.repeat(64), method: 'file', appliedAt: new Date(0) },
        ],
      }),
    want: { steps: [`legacy ${LEGACY_FILES.join(',')}`, 'baseline 0000_init', ...upToV23(1), 'seed v2.3'] },
  },
  {
    name: 'legacy v1.4 matching its schema: no legacy file, only the baseline and the later entries',
    inspection: () => inspection({ detection: detected('v1.4'), empty: false }),
    want: { steps: ['baseline 0000_init', ...upToV23(1), 'seed v2.3'], from: 'v1.4', to: 'v2.3' },
  },
  {
    name: 'legacy v1.4 not matching its schema: the idempotent legacy files fill the gaps first',
    inspection: () =>
      inspection({ detection: detected('v1.4'), empty: false, baselineDifferences: ['missing column users.locale'] }),
    want: { steps: [`legacy ${LEGACY_FILES.join(',')}`, 'baseline 0000_init', ...upToV23(1), 'seed v2.3'] },
  },
  ...[1, 2, 3].map((n) => ({
    name: `drizzle ${['v2.0', 'v2.1', 'v2.2'][n - 1]}: the entries after ${PULSE_TAGS[n - 1]}, then the seed data`,
    inspection: (c: Content) =>
      inspection({
        detection: detected(['v2.0', 'v2.1', 'v2.2'][n - 1]!),
        empty: false,
        drizzleLedger: applied(c, PULSE_TAGS.slice(0, n)),
      }),
    want: { steps: [...upToV23(n), 'seed v2.3'], from: ['v2.0', 'v2.1', 'v2.2'][n - 1], to: 'v2.3' },
  })),
  {
    name: 'drizzle v2.3, up to date: nothing to do, no backup',
    inspection: (c) => inspection({ detection: detected('v2.3'), empty: false, drizzleLedger: applied(c, PULSE_TAGS) }),
    want: { steps: [], from: 'v2.3', to: 'v2.3', backup: 'none' },
  },
  {
    name: 'v2.3 with seed rows missing: only the seed step, and a backup first',
    inspection: (c) =>
      inspection({ detection: detected('v2.3'), empty: false, drizzleLedger: applied(c, PULSE_TAGS), seedGaps: 3 }),
    want: { steps: ['seed v2.3'], to: 'v2.3', backup: 'upkit' },
  },
  {
    name: 'v2.3 with --no-backup and seed rows missing: the operator backs up',
    inspection: (c) =>
      inspection({ detection: detected('v2.3'), empty: false, drizzleLedger: applied(c, PULSE_TAGS), seedGaps: 1 }),
    options: { noBackup: true },
    want: { steps: ['seed v2.3'], backup: 'operator' },
  },
  {
    name: 'v2.1 with objects of v2.3 already there: the upgrade completes it, and warns',
    inspection: (c) =>
      inspection({
        detection: detected('v2.1', [
          'v2.3: partly present (enum integration_status; missing column users.preferences)',
        ]),
        empty: false,
        drizzleLedger: applied(c, PULSE_TAGS.slice(0, 2)),
      }),
    want: { steps: [...upToV23(2), 'seed v2.3'], warnings: ['release.partial'] },
  },
];

describe('plan() over Pulse releases', () => {
  it.each(pulseRows)('$name', async ({ inspection: make, options, want }) => {
    const content = pulse();
    const p = await planOf(make(content), content, options);
    expect(facts(p, want)).toEqual(expected(want));
  });

  it('says why the legacy files run: the release detected, or the differences from the baseline', async () => {
    const content = pulse();
    const below = await planOf(inspection({ detection: detected('v1.1'), empty: false }), content);
    expect(below.steps[0]).toMatchObject({
      kind: 'legacy',
      comprehensive: { file: 'comprehensive-upgrade.sql' },
      reason: 'detected v1.1: the legacy files bring it to v1.4',
    });
    const mismatched = await planOf(
      inspection({ detection: detected('v1.4'), empty: false, baselineDifferences: ['a', 'b', 'c', 'd'] }),
      content,
    );
    expect(mismatched.steps[0]).toMatchObject({
      kind: 'legacy',
      reason: 'at v1.4 but not matching its schema (a; b; c): the idempotent legacy files fill the gaps',
    });
    expect(mismatched.steps[1]).toMatchObject({
      kind: 'baseline',
      tag: '0000_init',
      hash: content.migrations[0]!.hash,
    });
  });

  it("lints 0003's type change on a table with rows as reviewed (upkit:safe): nothing refused", async () => {
    const content = pulse();
    const p = await planOf(
      inspection({
        detection: detected('v2.2'),
        drizzleLedger: applied(content, PULSE_TAGS.slice(0, 3)),
        ...tables(['users', 'aws_integrations', 'organizations', 'audit_logs'], ['users', 'aws_integrations']),
      }),
      content,
    );
    expect(p.lint.map((f) => [f.file, f.rule, f.accepted, f.acceptedBy])).toEqual([
      ['0003_integration_status_enum.sql', 'alter_column_type', true, 'upkit:safe'],
    ]);
    expect(p.refusals).toEqual([]);
  });
});

// ---- drizzle's ledger against the journal: an app ------------------------------------------

const T = 1_700_000_000_000;
const M0 = migration(0, '0000_init', T, 'CREATE TABLE "things" ("id" integer PRIMARY KEY);');
const M1 = migration(1, '0001_names', T + 1000, 'ALTER TABLE "things" ADD COLUMN "name" text;');
const M2 = migration(2, '0002_more', T + 2000, 'CREATE TABLE "more" ("id" integer PRIMARY KEY);');
const JOURNAL = [M0, M1, M2];

const row = (id: number, m: DrizzleMigration): DrizzleLedgerRow => ({ id, hash: m.hash, createdAt: m.when });
const other = (id: number, createdAt: number | null): DrizzleLedgerRow => ({ id, hash: 'e'.repeat(64), createdAt });

const appRows: {
  name: string;
  journal?: DrizzleMigration[];
  ledger: DrizzleLedgerRow[] | null;
  options?: Partial<PlanOptions>;
  want: Expected;
  says?: RegExp[];
}[] = [
  {
    name: 'fresh: every entry, no seed step (the app has no seed data)',
    ledger: null,
    want: { steps: ['drizzle 0000_init', 'drizzle 0001_names', 'drizzle 0002_more'], to: '0002_more' },
  },
  {
    name: 'up to date: nothing',
    ledger: [row(1, M0), row(2, M1), row(3, M2)],
    want: { steps: [], backup: 'none' },
  },
  {
    name: "edited: a row at 0001's `when` with another hash refuses, naming the file; 0001 is not run again",
    ledger: [row(1, M0), { id: 2, hash: 'd'.repeat(64), createdAt: M1.when }],
    want: { steps: ['drizzle 0002_more'], refusals: ['ledger.hash_mismatch'] },
    says: [/^0001_names\.sql was changed after it was applied/, /put '?\/srv\/app\/drizzle\/0001_names\.sql'? back/],
  },
  {
    name: 'unknown: a row newer than the last entry (a later release) refuses',
    ledger: [row(1, M0), row(2, M1), row(3, M2), other(4, M2.when + 5000)],
    want: { steps: [], refusals: ['ledger.unknown_entry'] },
    says: [new RegExp(`records 1 migration these files do not have \\(created_at ${M2.when + 5000}\\)`)],
  },
  {
    name: "shared: a row older than the last entry that matches no file only warns (another app's, or a removed file)",
    ledger: [other(1, T - 5000), row(2, M0)],
    want: { steps: ['drizzle 0001_names', 'drizzle 0002_more'], warnings: ['ledger.foreign_entry'] },
    says: [new RegExp(`1 row no migration of this folder matches.*created_at ${T - 5000}`)],
  },
  {
    name: 'a row without created_at that matches no file: shared, not unknown',
    ledger: [row(1, M0), row(2, M1), row(3, M2), other(4, null)],
    want: { steps: [], warnings: ['ledger.foreign_entry'] },
  },
  {
    name: 'out of order: 0001 was never applied but 0002 was; upkit applies it, and warns',
    ledger: [row(1, M0), row(2, M2)],
    want: { steps: ['drizzle 0001_names'], warnings: ['ledger.out_of_order'] },
    says: [/^0001_names is older than the newest applied migration/],
  },
  {
    name: 'duplicate `when`: two entries drizzle could not tell apart refuse',
    journal: [M0, M1, migration(2, '0002_more', M1.when, M2.text)],
    ledger: [row(1, M0)],
    want: { steps: ['drizzle 0001_names', 'drizzle 0002_more'], refusals: ['journal.duplicate_when'] },
    says: [new RegExp(`journal entries 0001_names and 0002_more share the same \`when\` \\(${M1.when}\\)`)],
  },
  {
    name: 'duplicate `when` with the first applied: the second is pending, refused, and not out of order (same `when`)',
    journal: [M0, M1, migration(2, '0002_more', M1.when, M2.text)],
    ledger: [row(1, M0), row(2, M1)],
    want: { steps: ['drizzle 0002_more'], refusals: ['journal.duplicate_when'] },
  },
  {
    name: 'a `when` in the future only warns',
    journal: [M0, migration(1, '0001_names', NOW + 86_400_000, M1.text)],
    ledger: [row(1, M0)],
    want: { steps: ['drizzle 0001_names'], warnings: ['journal.future_when'] },
  },
  {
    name: 'transaction control other than BEGIN and COMMIT (a SAVEPOINT) refuses',
    journal: [
      M0,
      migration(
        1,
        '0001_names',
        M1.when,
        'BEGIN;\nSAVEPOINT a;\nALTER TABLE "things" ADD COLUMN "name" text;\nCOMMIT;',
      ),
    ],
    ledger: [row(1, M0)],
    want: { steps: ['drizzle 0001_names'], refusals: ['drizzle.transaction_control'] },
    says: [/^0001_names\.sql:2: SAVEPOINT a controls the transaction/, /npx zx scripts\/mark\.ts --help/],
  },
  {
    // The unknown row is newer than every pending entry: each of them is out of order too.
    name: 'everything wrong at once: refusals in order (edited, unknown, duplicate `when`), warnings too',
    journal: [M0, M1, migration(2, '0002_more', M1.when, M2.text)],
    ledger: [{ id: 1, hash: 'd'.repeat(64), createdAt: M0.when }, other(2, T - 1), other(3, M1.when + 9000)],
    want: {
      steps: ['drizzle 0001_names', 'drizzle 0002_more'],
      refusals: ['ledger.hash_mismatch', 'ledger.unknown_entry', 'journal.duplicate_when'],
      warnings: ['ledger.foreign_entry', 'ledger.out_of_order', 'ledger.out_of_order'],
    },
  },
];

describe('plan() over drizzle ledger states', () => {
  it.each(appRows)('$name', async ({ journal, ledger, options, want, says }) => {
    const content = app(journal ?? JOURNAL);
    const p = await planOf(
      inspection({ database: 'app', drizzleLedger: ledger, empty: ledger === null, detection: detected(null) }),
      content,
      options,
    );
    expect(facts(p, want)).toEqual(expected(want));
    const text = [...p.refusals, ...p.warnings].map((r) => `${r.message}\n${r.hint}`).join('\n');
    for (const re of says ?? []) expect(text).toMatch(re);
  });

  it('marks the out-of-order step itself, and only that one', async () => {
    const content = app(JOURNAL);
    const p = await planOf(inspection({ drizzleLedger: [row(1, M0), row(2, M2)], empty: false }), content);
    expect(p.steps).toMatchObject([{ kind: 'drizzle', tag: '0001_names', outOfOrder: true, statements: 1 }]);
    const inOrder = await planOf(inspection({ drizzleLedger: [row(1, M0)], empty: false }), app(JOURNAL));
    expect(inOrder.steps.map((s) => s.kind === 'drizzle' && s.outOfOrder)).toEqual([false, false]);
  });
});

// ---- a migration split in parts, some recorded ---------------------------------------------

describe('plan() over half-applied parts', () => {
  const parted = migration(
    1,
    '0001_index',
    T + 1000,
    [
      'ALTER TABLE "things" ADD COLUMN "name" text;',
      'CREATE INDEX CONCURRENTLY "things_name_idx" ON "things" ("name");',
      'CREATE INDEX CONCURRENTLY "things_id_name_idx" ON "things" ("id", "name");',
    ].join(`\n${BREAKPOINT}\n`),
  );
  const rows = [
    { name: 'no part recorded: nothing resumes', parts: [], resumes: [] },
    { name: 'the transaction recorded: it resumes after it', parts: ['0001_index:HASH:tx'], resumes: ['tx'] },
    {
      name: 'parts recorded under another hash (the file changed since): none of them resumes',
      parts: [`0001_index:${'0'.repeat(64)}:tx`],
      resumes: [],
    },
    {
      name: 'parts of another migration: not this one',
      parts: ['0002_other:HASH:tx', '0001_index_old:HASH:tx'],
      resumes: [],
    },
    {
      name: 'a part whose name holds a colon keeps it whole',
      parts: ['0001_index:HASH:index:things_name_idx'],
      resumes: ['index:things_name_idx'],
    },
  ];
  it.each(rows)('$name', async ({ parts, resumes }) => {
    const content = app([M0, parted]);
    const p = await planOf(
      inspection({
        drizzleLedger: [row(1, M0)],
        parts: new Set(parts.map((k) => k.replace('HASH', parted.hash))),
        ...tables(['things']),
      }),
      content,
    );
    expect(p.steps).toMatchObject([
      { kind: 'drizzle', tag: '0001_index', statements: 3, outsideTransaction: 2, resumes },
    ]);
    expect(p.refusals).toEqual([]);
  });
});

// ---- destructive migrations --------------------------------------------------------------

describe('plan() over destructive migrations', () => {
  const drop = migration(1, '0001_drop', T + 1000, 'DROP TABLE "things";');
  const add = migration(2, '0002_add', T + 2000, 'ALTER TABLE "more" ADD COLUMN "note" text;');
  const rows: {
    name: string;
    filled: string[];
    allow: PlanOptions['allowDestructive'];
    refusals: string[];
    acceptedBy: (string | null)[];
    usage?: boolean;
    says?: RegExp;
  }[] = [
    {
      name: 'a table with rows dropped, nothing accepted: refused, the hint names the tag to accept',
      filled: ['things'],
      allow: false,
      refusals: ['lint.destructive'],
      acceptedBy: [null],
      says: /run again with '?--allow-destructive=0001_drop'?/,
    },
    {
      name: '--allow-destructive accepts it',
      filled: ['things'],
      allow: true,
      refusals: [],
      acceptedBy: ['--allow-destructive'],
    },
    {
      name: '--allow-destructive=0001_drop accepts it by its tag',
      filled: ['things'],
      allow: ['0001_drop'],
      refusals: [],
      acceptedBy: ['--allow-destructive=TAG'],
    },
    {
      name: '--allow-destructive=0001_drop.sql: the file name counts as the tag',
      filled: ['things'],
      allow: ['0001_drop.sql'],
      refusals: [],
      acceptedBy: ['--allow-destructive=TAG'],
    },
    {
      name: 'a tag that is not pending: a usage error first, and no second refusal',
      filled: ['things'],
      allow: ['0009_typo'],
      refusals: ['lint.accept_unknown'],
      acceptedBy: [null],
      usage: true,
      says: /--allow-destructive names 0009_typo, which is not a pending migration \(pending: 0001_drop, 0002_add\)/,
    },
    {
      name: 'a pending tag with nothing destructive: a usage error',
      filled: ['things'],
      allow: ['0001_drop', '0002_add'],
      refusals: ['lint.accept_nothing'],
      acceptedBy: ['--allow-destructive=TAG'],
      usage: true,
      says: /0002_add, which has no destructive statement to accept/,
    },
  ];
  it.each(rows)('$name', async ({ filled, allow, refusals, acceptedBy, usage, says }) => {
    const content = app([M0, drop, add]);
    const p = await planOf(
      inspection({ drizzleLedger: [row(1, M0)], ...tables(['things', 'more'], filled) }),
      content,
      { allowDestructive: allow },
    );
    expect(p.steps.map(stepLine)).toEqual(['drizzle 0001_drop', 'drizzle 0002_add']);
    expect(p.refusals.map((r) => r.code)).toEqual(refusals);
    expect(p.lint.map((f) => f.acceptedBy)).toEqual(acceptedBy);
    if (usage !== undefined) expect(p.refusals[0]?.usage).toBe(usage);
    if (says) expect(p.refusals.map((r) => `${r.message} ${r.hint}`).join('\n')).toMatch(says);
  });
});

// ---- compareLedger ------------------------------------------------------------------------

describe('compareLedger', () => {
  const tags = (ms: readonly { tag: string }[]) => ms.map((m) => m.tag);
  const whens = (rs: readonly DrizzleLedgerRow[]) => rs.map((r) => r.createdAt);
  const rows: {
    name: string;
    ledger: DrizzleLedgerRow[];
    applied: string[];
    edited: string[];
    unknown: (number | null)[];
    shared: (number | null)[];
    pending: string[];
  }[] = [
    { name: 'empty ledger', ledger: [], applied: [], edited: [], unknown: [], shared: [], pending: tags(JOURNAL) },
    {
      name: 'all applied',
      ledger: [row(1, M0), row(2, M1), row(3, M2)],
      applied: tags(JOURNAL),
      edited: [],
      unknown: [],
      shared: [],
      pending: [],
    },
    {
      name: 'matched by hash whatever the created_at',
      ledger: [{ id: 1, hash: M0.hash, createdAt: 42 }],
      applied: ['0000_init'],
      edited: [],
      unknown: [],
      shared: [],
      pending: ['0001_names', '0002_more'],
    },
    {
      name: 'edited: same `when`, another hash; neither applied nor pending',
      ledger: [row(1, M0), other(2, M1.when)],
      applied: ['0000_init'],
      edited: ['0001_names'],
      unknown: [],
      shared: [],
      pending: ['0002_more'],
    },
    {
      name: 'unknown after the last entry, shared before it (or without created_at)',
      ledger: [row(1, M0), other(2, M2.when + 1), other(3, M0.when - 1), other(4, null), other(5, M2.when)],
      applied: ['0000_init'],
      edited: ['0002_more'],
      unknown: [M2.when + 1],
      shared: [M0.when - 1, null],
      pending: ['0001_names'],
    },
  ];
  it.each(rows)('$name', ({ ledger, ...want }) => {
    const c = compareLedger(JOURNAL, ledger);
    expect({
      applied: tags(c.applied),
      edited: tags(c.edited),
      unknown: whens(c.unknown),
      shared: whens(c.shared),
      pending: tags(c.pending),
    }).toEqual({
      applied: want.applied,
      edited: want.edited,
      unknown: want.unknown,
      shared: want.shared,
      pending: want.pending,
    });
  });

  it('an empty journal: every row is unknown, being newer than no entry', () => {
    const c = compareLedger([], [other(1, 5), other(2, null)]);
    expect(whens(c.unknown)).toEqual([5]);
    expect(whens(c.shared)).toEqual([null]);
  });
});

// ---- repeatable files -----------------------------------------------------------------------

describe('plan() over repeatable files', () => {
  /** A repeatable file where it stands; its statements parsed into the content as inspect() leaves them. */
  async function repeatable(content: Content, file: string, status: RepeatableStatus, sql = 'select 1;') {
    content.statements.set(repeatableKey(file), await parseSqlFile(sql, { file, breakpoints: false }));
    const state: RepeatableState = {
      file,
      path: `/srv/app/repeatable/${file}`,
      checksum: sha256(sql),
      status,
      last: null,
      missing: status === 'missing' ? ['view public.active_things'] : [],
      waitingFor: status === 'waiting' ? ['reporting'] : [],
    };
    return state;
  }

  const rows: {
    name: string;
    files: [string, RepeatableStatus, string?][];
    pending: boolean;
    steps: string[];
    refusals?: string[];
  }[] = [
    {
      name: 'up to date: new, changed and missing files apply, in the order given; applied and waiting ones do not',
      files: [
        ['a_new.sql', 'new'],
        ['b_changed.sql', 'changed'],
        ['c_missing.sql', 'missing'],
        ['d_applied.sql', 'applied'],
        ['e_waiting.sql', 'waiting'],
      ],
      pending: false,
      steps: ['repeatable a_new.sql', 'repeatable b_changed.sql', 'repeatable c_missing.sql'],
    },
    {
      name: 'with migrations pending: every applied file again after them; a waiting one still not',
      files: [
        ['d_applied.sql', 'applied'],
        ['e_waiting.sql', 'waiting'],
      ],
      pending: true,
      steps: ['drizzle 0001_names', 'drizzle 0002_more', 'repeatable d_applied.sql'],
    },
    {
      name: 'a file that ends the transaction itself is refused',
      files: [['views.sql', 'new', 'create view v as select 1;\ncommit;']],
      pending: false,
      steps: ['repeatable views.sql'],
      refusals: ['repeatable.transaction_control'],
    },
    {
      name: 'a file that sets search_path for the session is refused; SET LOCAL is not',
      files: [
        ['a.sql', 'new', 'set search_path = reporting;\ncreate view v as select 1;'],
        ['b.sql', 'new', 'set local search_path = reporting;\ncreate view w as select 1;'],
      ],
      pending: false,
      steps: ['repeatable a.sql', 'repeatable b.sql'],
      refusals: ['repeatable.session_setting'],
    },
  ];
  it.each(rows)('$name', async ({ files, pending, steps, refusals }) => {
    const content = app(JOURNAL);
    const states = [];
    for (const [file, status, sql] of files) states.push(await repeatable(content, file, status, sql));
    const p = await planOf(
      inspection({
        drizzleLedger: pending ? [row(1, M0)] : [row(1, M0), row(2, M1), row(3, M2)],
        repeatable: states,
        ...tables(['things']),
      }),
      content,
    );
    expect(p.steps.map(stepLine)).toEqual(steps);
    expect(p.refusals.map((r) => r.code)).toEqual(refusals ?? []);
    const reasons = p.steps.flatMap((s) => (s.kind === 'repeatable' ? [s.reason] : []));
    expect(reasons).toEqual(
      files
        .filter(([, status]) => status !== 'waiting' && (status !== 'applied' || pending))
        .map(([, status]) => (status === 'applied' ? 'migrations' : status)),
    );
  });
});
