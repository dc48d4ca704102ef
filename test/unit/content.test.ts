import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { build } from '../../legacy-sql/build.ts';
import { readJournal, readMigrations } from '../../lib/drizzle/journal.ts';
import { readLegacyManifest } from '../../lib/legacy/manifest.ts';
import { ROOT } from '../support/cli.ts';

const run = promisify(execFile);
const DRIZZLE = path.join(ROOT, 'drizzle');

describe('content files', () => {
  it('legacy-sql is up to date with drizzle/seed.ts (npm run content:build)', () => {
    expect(build(true)).toEqual([]);
  });

  it('the manifest orders the five legacy files by release', () => {
    const m = readLegacyManifest(path.join(ROOT, 'legacy-sql'));
    expect(m.files.map((f) => `${f.release} ${f.file}`)).toEqual([
      'v1.0 upgrade.sql',
      'v1.1 feature-flags-migration.sql',
      'v1.2 rbac-permissions-fix.sql',
      'v1.3 email-case-insensitive-fix.sql',
      'v1.4 discovery-migration.sql',
    ]);
    expect(m.comprehensive?.file).toBe('comprehensive-upgrade.sql');
  });

  it('the journal has four entries whose `when` values increase, each with its file', () => {
    const journal = readJournal(DRIZZLE);
    expect(journal.map((e) => e.tag)).toEqual([
      '0000_init',
      '0001_api_keys',
      '0002_audit_logs',
      '0003_integration_status_enum',
    ]);
    for (let i = 1; i < journal.length; i++) expect(journal[i]!.when).toBeGreaterThan(journal[i - 1]!.when);
    const migrations = readMigrations(DRIZZLE);
    expect(migrations[2]!.text).toContain('CREATE INDEX CONCURRENTLY "audit_logs_organization_created_idx"');
    expect(migrations[3]!.text).toMatch(
      /-- upkit:safe .*\nALTER TABLE "aws_integrations" ALTER COLUMN "status" SET DATA TYPE/,
    );
  });

  it('drizzle-kit check is clean and generate finds nothing to add', async () => {
    const { stdout: check } = await run('npx', ['drizzle-kit', 'check'], { cwd: ROOT });
    expect(check).toContain("Everything's fine");
    // Generate into a copy, so that a failure cannot leave a stray migration in drizzle/.
    const out = mkdtempSync(path.join(tmpdir(), 'upkit-generate-'));
    cpSync(DRIZZLE, out, { recursive: true });
    const config = path.join(out, 'drizzle.config.ts');
    // drizzle-kit wants `out` relative to the working directory.
    writeFileSync(
      config,
      `export default { dialect: 'postgresql', schema: './drizzle/schema.ts', ` +
        `out: ${JSON.stringify(path.relative(ROOT, out))} };\n`,
    );
    const { stdout } = await run('npx', ['drizzle-kit', 'generate', '--config', config], { cwd: ROOT });
    expect(stdout).toContain('No schema changes, nothing to migrate');
    expect(readdirSync(out).filter((f) => f.endsWith('.sql'))).toHaveLength(4);
  }, 60_000);
});
