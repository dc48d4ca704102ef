// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the migration files. Each
// is refused before anything is written (exit 3), except a journal `when` in the future,
// which is a warning. The files are edited in copies of Pulse's folders, passed with
// --drizzle-dir or --legacy-dir.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR, type FixtureRelease, LEGACY_DIR } from '../support/releases.ts';

/** A copy of a content folder, to spoil. */
function copyOf(dir: string): string {
  const copy = path.join(tempDir('upkit-case-content-'), path.basename(dir));
  cpSync(dir, copy, { recursive: true });
  return copy;
}

interface Journal {
  entries: Array<{ idx: number; version: string; when: number; tag: string; breakpoints: boolean }>;
}

function editJournal(dir: string, edit: (j: Journal) => void): Journal {
  const file = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(file, 'utf8')) as Journal;
  edit(journal);
  writeFileSync(file, JSON.stringify(journal, null, 2));
  return journal;
}

describe('failure catalogue: migration files', () => {
  const db = useFreshDatabase();
  const at = (release: FixtureRelease) => asRelease(db(), release);

  /** Builds the release, runs the case with the spoilt folder, checks the line and that nothing changed. */
  async function refused(
    id: string,
    release: FixtureRelease,
    dir: string,
    vars: Record<string, string | number> = {},
  ): Promise<void> {
    await at(release);
    const c = failureCase(id);
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir, ...vars });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  }

  it('mig.edited', async () => {
    const dir = copyOf(DRIZZLE_DIR);
    writeFileSync(
      path.join(dir, '0001_api_keys.sql'),
      `${readFileSync(path.join(dir, '0001_api_keys.sql'), 'utf8')}\n-- tuned by hand\n`,
    );
    await refused('mig.edited', 'v2.2', dir);
  });

  it('mig.missing-file', async () => {
    const dir = copyOf(DRIZZLE_DIR);
    rmSync(path.join(dir, '0002_audit_logs.sql'));
    await refused('mig.missing-file', 'v2.1', dir);
  });

  it('mig.journal-json', async () => {
    const dir = copyOf(DRIZZLE_DIR);
    const half = readFileSync(path.join(dir, 'meta', '_journal.json'), 'utf8').slice(0, 120);
    writeFileSync(path.join(dir, 'meta', '_journal.json'), half);
    let reason = '';
    try {
      JSON.parse(half);
    } catch (err) {
      reason = (err as Error).message;
    }
    await refused('mig.journal-json', 'v2.1', dir, { reason });
  });

  it('mig.duplicate-when', async () => {
    const dir = copyOf(DRIZZLE_DIR);
    const journal = editJournal(dir, (j) => (j.entries[3]!.when = j.entries[2]!.when));
    await refused('mig.duplicate-when', 'v2.2', dir, { when: journal.entries[2]!.when });
  });

  it('mig.future-when', async () => {
    const dir = copyOf(DRIZZLE_DIR);
    editJournal(dir, (j) => (j.entries[3]!.when = Date.parse('2100-01-01T00:00:00.000Z')));
    await refused('mig.future-when', 'v2.2', dir);
  });

  it('mig.syntax-drizzle', async () => {
    const dir = copyOf(DRIZZLE_DIR);
    const file = path.join(dir, '0003_integration_status_enum.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^CREATE TYPE/, 'CRATE TYPE'));
    await refused('mig.syntax-drizzle', 'v2.2', dir);
  });

  it('mig.syntax-legacy', async () => {
    const dir = copyOf(LEGACY_DIR);
    const file = path.join(dir, 'rbac-permissions-fix.sql');
    const lines = readFileSync(file, 'utf8').split('\n');
    // Line 17 opens the permissions table; a stray comma after the parenthesis.
    lines[16] = lines[16]!.replace('permissions (', 'permissions (,');
    writeFileSync(file, lines.join('\n'));
    await refused('mig.syntax-legacy', 'v1.0', dir);
  });

  it('mig.legacy-file-missing', async () => {
    const dir = copyOf(LEGACY_DIR);
    rmSync(path.join(dir, 'rbac-permissions-fix.sql'));
    await refused('mig.legacy-file-missing', 'v1.0', dir);
  });

  it('mig.database-ahead', async () => {
    await at('v2.3');
    await withClientAt(db().url, (c) =>
      c.query(`insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, 4102444800000)`, [
        'f'.repeat(64),
      ]),
    );
    const c = failureCase('mig.database-ahead');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it('mig.destructive', async () => {
    const dir = copyOf(DRIZZLE_DIR);
    const journal = editJournal(dir, (j) =>
      j.entries.push({
        idx: 4,
        version: '7',
        when: j.entries[3]!.when + 1000,
        tag: '0004_drop_name',
        breakpoints: true,
      }),
    );
    writeFileSync(path.join(dir, '0004_drop_name.sql'), 'ALTER TABLE "users" DROP COLUMN "name";');
    cpSync(
      path.join(dir, 'meta', '0003_snapshot.json'),
      path.join(dir, 'meta', `000${journal.entries.length - 1}_snapshot.json`),
    );
    await refused('mig.destructive', 'v2.3', dir);
  });
});
