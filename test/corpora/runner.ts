// One corpus: every database the suite builds for it, one at a time (a corpus that creates
// cluster-wide roles gets them dropped after each of its databases), and what each showed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { ServerHandle } from '../support/servers/common.ts';
import { runUpkit, type RunResult } from '../support/cli.ts';
import { compareSnapshots, snapshot, type Comparison, type Snapshot } from './compare.ts';
import {
  countStatements,
  drizzleKitMigrate,
  drizzleOrmMigrate,
  extensionsUsed,
  fillWithDefaults,
  psqlMigrate,
  readJournal,
  truncatedCopy,
} from './drizzleSide.ts';
import { withClient } from '../../bench/support.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RUN_TIMEOUT_MS = 30 * 60_000;

interface ManifestEntry {
  prereq?: string;
  /** libpq options on upkit's DATABASE_URL (`-c search_path=NAME`): upkit pins every session's
   * search_path to one schema, public unless the URL names another, whatever the database's default. */
  upkitUrlOptions?: string;
  extensions?: string[];
  note?: string;
}

function manifestFor(name: string): ManifestEntry {
  const all = JSON.parse(readFileSync(path.join(HERE, 'corpora.json'), 'utf8')) as Record<string, ManifestEntry>;
  return all[name] ?? {};
}

export interface UpkitRun {
  exit: number | null;
  ms: number;
  /** Lint findings nobody reviewed (plan.lint without a `-- upkit:safe` reason). */
  lint: number | null;
  /** The first lint findings, `file:line message`. */
  firstLint: string[];
  /** Error and warning findings' codes, first ones. */
  codes: string[];
  /** The first line upkit printed with ✖, when it failed. */
  error: string | null;
  applied: number | null;
}

export interface VerifyRun {
  exit: number | null;
  errors: number;
  codes: string[];
  first: string[];
}

export interface Pair {
  /** null when the scenario could not be run (its reason in `skipped`). */
  catalog: Comparison | null;
  ledger: Comparison | null;
  skipped?: string;
}

export interface CorpusResult {
  name: string;
  dir: string;
  note: string | null;
  migrations: number;
  statements: number;
  skipped: string | null;
  /** How the peer database was built: drizzle-orm's migrate(), or psql statement by statement. */
  reference: { mode: 'drizzle-orm' | 'psql'; why: string | null } | null;
  install: UpkitRun | null;
  /** upkit's fresh install against the peer's. */
  fresh: Pair | null;
  halfDrizzleThenUpkit: (Pair & { upkit: UpkitRun | null }) | null;
  halfUpkitThenDrizzle: (Pair & { upkit: UpkitRun | null; drizzleError: string | null }) | null;
  verifyUpkit: VerifyRun | null;
  verifyDrizzle: VerifyRun | null;
  noopUpkit: UpkitRun | null;
  noopDrizzle: { newRows: number; error: string | null } | null;
  withData: { filled: number; tables: number; dryRun: UpkitRun } | null;
  times: {
    upkitMs: number | null;
    drizzleOrmMs: number | null;
    drizzleKitMs: number | null;
    drizzleKitError: string | null;
  };
}

/** Whether a run may have changed the database: refusals (3) and usage errors (2) change nothing. */
const changed = (exit: number | null) => exit !== null && exit !== 2 && exit !== 3;

const errMessage = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

function dbUrl(server: ServerHandle, name: string): string {
  const u = new URL(server.adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

function admin<T>(server: ServerHandle, fn: (c: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  return withClient(dbUrl(server, database), fn);
}

/** upkit's entry point as an operator runs it, with a private working and log directory. */
async function upkit(
  entry: string,
  args: string[],
  url: string,
): Promise<RunResult & { report: Record<string, unknown> | null }> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'upkit-corpus-cwd-'));
  try {
    const r = await runUpkit(entry, args, { cwd, env: { DATABASE_URL: url }, timeoutMs: RUN_TIMEOUT_MS });
    let report: Record<string, unknown> | null = null;
    try {
      report = JSON.parse(r.stdout);
    } catch {
      report = null;
    }
    rmSync(r.logDir, { recursive: true, force: true });
    return { ...r, report };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

function upkitRun(r: RunResult & { report: Record<string, unknown> | null }): UpkitRun {
  const findings = (r.report?.findings ?? []) as Array<{ severity: string; code: string; message: string }>;
  const plan = r.report?.plan as
    | { lint?: Array<{ file: string; line: number; message: string; safe?: string | null }> }
    | undefined;
  const lint = plan?.lint ? plan.lint.filter((f) => !f.safe) : null;
  const error = r.stderr.split('\n').find((l) => l.includes('✖')) ?? null;
  return {
    exit: r.code,
    ms: r.durationMs,
    lint: lint ? lint.length : null,
    firstLint: (lint ?? []).slice(0, 3).map((f) => `${f.file}:${f.line} ${f.message}`),
    codes: [...new Set(findings.filter((f) => f.severity !== 'info').map((f) => f.code))].slice(0, 6),
    error: error ? error.replace(/^.*?✖\s*/, '✖ ').slice(0, 300) : null,
    applied: Array.isArray(r.report?.applied) ? (r.report!.applied as unknown[]).length : null,
  };
}

async function verify(url: string, dir: string): Promise<VerifyRun> {
  const r = await upkit('verify/index.ts', ['--json', '--drizzle-dir', dir], url);
  const errors = ((r.report?.findings ?? []) as Array<{ severity: string; code: string; message: string }>).filter(
    (f) => f.severity === 'error',
  );
  return {
    exit: r.code,
    errors: errors.length,
    codes: [...new Set(errors.map((f) => f.code))].slice(0, 6),
    first: errors.slice(0, 3).map((f) => `${f.code}: ${f.message}`.slice(0, 240)),
  };
}

export interface CorpusOptions {
  /** upkit's installs by `upgrade.ts --yes --no-backup --allow-destructive` on the empty
   * database instead of `install.ts` (which takes no such flag), and its upgrades with that
   * flag: what the engine does once the lint lets it, not the documented command. */
  allowDestructive: boolean;
}

export async function runCorpus(
  server: ServerHandle,
  binDir: string,
  dir: string,
  say: (line: string) => void,
  options: CorpusOptions = { allowDestructive: false },
): Promise<CorpusResult> {
  const install = (folder: string): [string, string[]] =>
    options.allowDestructive
      ? ['upgrade.ts', ['--yes', '--json', '--no-backup', '--allow-destructive', '--drizzle-dir', folder]]
      : ['install.ts', ['--json', '--drizzle-dir', folder]];
  const upgradeFlags = options.allowDestructive ? ['--allow-destructive'] : [];
  const name = path.basename(dir);
  const manifest = manifestFor(name);
  const { migrations, statements } = countStatements(dir);
  const result: CorpusResult = {
    name,
    dir,
    note: manifest.note ?? null,
    migrations,
    statements,
    skipped: null,
    reference: null,
    install: null,
    fresh: null,
    halfDrizzleThenUpkit: null,
    halfUpkitThenDrizzle: null,
    verifyUpkit: null,
    verifyDrizzle: null,
    noopUpkit: null,
    noopDrizzle: null,
    withData: null,
    times: { upkitMs: null, drizzleOrmMs: null, drizzleKitMs: null, drizzleKitError: null },
  };

  const needed = [...new Set([...(manifest.extensions ?? []), ...extensionsUsed(dir)])].sort();
  const available = await admin(
    server,
    async (c) =>
      new Set((await c.query<{ name: string }>('select name from pg_available_extensions')).rows.map((r) => r.name)),
  );
  const missing = needed.filter((e) => !available.has(e));
  if (missing.length) {
    result.skipped = `skipped: needs extension ${missing.join(', ')}`;
    say(result.skipped);
    return result;
  }
  const upkitUrl = (url: string): string => {
    if (!manifest.upkitUrlOptions) return url;
    const u = new URL(url);
    u.searchParams.set('options', manifest.upkitUrlOptions);
    return u.toString();
  };
  const prereq = manifest.prereq ? readFileSync(path.join(HERE, manifest.prereq), 'utf8') : null;
  const rolesBefore = await admin(
    server,
    async (c) => new Set((await c.query<{ r: string }>('select rolname as r from pg_roles')).rows.map((x) => x.r)),
  );

  /** A fresh database with the corpus's prerequisites, dropped afterwards with the roles it made. */
  const withDatabase = async <T>(suffix: string, fn: (url: string) => Promise<T>): Promise<T> => {
    const db = `corpus_${name.replace(/\W/g, '_')}_${suffix}`.toLowerCase();
    await admin(server, async (c) => {
      await c.query(`drop database if exists "${db}" with (force)`);
      await c.query(`create database "${db}"`);
    });
    if (prereq) await admin(server, (c) => c.query(prereq), db);
    try {
      return await fn(dbUrl(server, db));
    } finally {
      await admin(server, async (c) => {
        await c.query(`drop database if exists "${db}" with (force)`);
        const made = (await c.query<{ r: string }>('select rolname as r from pg_roles')).rows
          .map((x) => x.r)
          .filter((r) => !rolesBefore.has(r));
        for (const r of made) await c.query(`drop role if exists "${r.replace(/"/g, '""')}"`);
      });
    }
  };

  // The peer: drizzle-orm's migrate(); where it cannot run the folder, psql statement by statement.
  let mode: 'drizzle-orm' | 'psql' = 'drizzle-orm';
  let why: string | null = null;
  const peerApply = (url: string, folder: string) =>
    mode === 'drizzle-orm' ? drizzleOrmMigrate(url, folder) : psqlMigrate(url, folder, binDir);

  say('drizzle-orm migrate() on a fresh database');
  let reference: Snapshot | null = null;
  try {
    reference = await withDatabase('orm', async (url) => {
      const t0 = performance.now();
      await drizzleOrmMigrate(url, dir);
      result.times.drizzleOrmMs = performance.now() - t0;
      return peerChecks(url);
    });
  } catch (e) {
    why = `drizzle-orm migrate() failed: ${errMessage(e)}`;
    say(why);
    mode = 'psql';
  }
  async function peerChecks(url: string): Promise<Snapshot> {
    const snap = await snapshot(url, binDir);
    result.verifyDrizzle = await verify(upkitUrl(url), dir);
    try {
      await peerApply(url, dir);
      result.noopDrizzle = { newRows: (await snapshot(url, binDir)).ledger.length - snap.ledger.length, error: null };
    } catch (e) {
      result.noopDrizzle = { newRows: 0, error: errMessage(e) };
    }
    return snap;
  }
  if (mode === 'psql') {
    say('psql, statement by statement, on a fresh database');
    reference = await withDatabase('psql', async (url) => {
      await psqlMigrate(url, dir, binDir);
      return peerChecks(url);
    });
  }
  result.reference = { mode, why };
  const ref = reference!;

  say(`upkit ${install(dir)[0]} --drizzle-dir on a fresh database`);
  await withDatabase('upkit', async (url) => {
    const r = await upkit(...install(dir), upkitUrl(url));
    result.install = upkitRun(r);
    result.times.upkitMs = r.durationMs;
    if (!changed(r.code)) return;
    result.fresh = compareSnapshots(await snapshot(url, binDir), ref, ['upkit', mode]);
    result.verifyUpkit = await verify(upkitUrl(url), dir);
    result.noopUpkit = upkitRun(await upkit('upgrade.ts', ['--yes', '--json', '--drizzle-dir', dir], upkitUrl(url)));
  });
  if (!changed(result.install?.exit ?? null)) {
    result.fresh = { catalog: null, ledger: null, skipped: `install exit ${result.install?.exit}` };
  }

  say('npx drizzle-kit migrate on a fresh database');
  await withDatabase('kit', async (url) => {
    const t0 = performance.now();
    try {
      await drizzleKitMigrate(url, dir);
      result.times.drizzleKitMs = performance.now() - t0;
    } catch (e) {
      result.times.drizzleKitError = errMessage(e);
    }
  });

  const half = Math.floor(readJournal(dir).entries.length / 2);
  const halfDir = truncatedCopy(dir, half);
  try {
    say(`first ${half} by ${mode}, then upkit upgrade.ts on the whole folder`);
    await withDatabase('half_peer', async (url) => {
      await peerApply(url, halfDir);
      const u = upkitRun(
        await upkit(
          'upgrade.ts',
          ['--yes', '--json', '--no-backup', ...upgradeFlags, '--drizzle-dir', dir],
          upkitUrl(url),
        ),
      );
      result.halfDrizzleThenUpkit = changed(u.exit)
        ? { ...compareSnapshots(await snapshot(url, binDir), ref, ['mixed', mode]), upkit: u }
        : { catalog: null, ledger: null, skipped: `upgrade exit ${u.exit}`, upkit: u };
    });

    say(`first ${half} by upkit ${install(halfDir)[0]}, then ${mode} on the whole folder`);
    await withDatabase('half_upkit', async (url) => {
      const u = upkitRun(await upkit(...install(halfDir), upkitUrl(url)));
      if (!changed(u.exit)) {
        result.halfUpkitThenDrizzle = {
          catalog: null,
          ledger: null,
          skipped: `install exit ${u.exit}`,
          upkit: u,
          drizzleError: null,
        };
        return;
      }
      try {
        await peerApply(url, dir);
        result.halfUpkitThenDrizzle = {
          ...compareSnapshots(await snapshot(url, binDir), ref, ['mixed', mode]),
          upkit: u,
          drizzleError: null,
        };
      } catch (e) {
        result.halfUpkitThenDrizzle = {
          catalog: null,
          ledger: null,
          skipped: `${mode} failed`,
          upkit: u,
          drizzleError: errMessage(e),
        };
      }
    });

    say(`first ${half} by ${mode}, a row of defaults in every table that takes one, then upkit's dry run`);
    await withDatabase('data', async (url) => {
      await peerApply(url, halfDir);
      const filled = await fillWithDefaults(url);
      const dry = upkitRun(await upkit('upgrade.ts', ['--dry-run', '--json', '--drizzle-dir', dir], upkitUrl(url)));
      result.withData = { ...filled, dryRun: dry };
    });
  } finally {
    rmSync(halfDir, { recursive: true, force: true });
  }
  if (!existsSync(dir)) throw new Error(`${dir} went away during the run`);
  return result;
}
