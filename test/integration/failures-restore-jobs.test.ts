// Catalogue cases (test/failures/hardening/restorespeed.ts), and the same with --into:
// pg_restore runs with parallel jobs, not in one transaction, so when it fails on a late
// entry or is stopped, tables it has loaded are committed in the new database. upkit
// created that database for this restore and drops it: none is left, the live database is
// untouched, and no pg_restore (leader or job) outlives the run.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { takeBackup, type BackupResult } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { runUpkit, type RunResult } from '../support/cli.ts';
import {
  backupTests,
  useFreshDatabase,
  withAdminClient,
  slowToIndex,
  withClientAt,
  type TestDatabase,
} from '../support/database.ts';
import { companions } from '../support/backupFormat.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

/** Databases named like the live one's companions (test files share the server). */
/** Running processes whose command line holds `text` (Linux /proc). */
function processesWith(text: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const state = /\) (\S)/.exec(readFileSync(`/proc/${entry}/stat`, 'utf8'))?.[1];
      if (cmdline.includes(text) && state !== 'Z') out.push(cmdline);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

async function backupOf(db: TestDatabase): Promise<BackupResult> {
  const dir = tempDir('upkit-case-jobs-');
  return takeBackup(loadConfig({ env: { DATABASE_URL: db.url }, cwd: dir }), quiet(), {
    backupDir: dir,
    keep: 5,
    upkitVersion: 'test',
  });
}

/**
 * Two tables with rows, and an index on a function whose body names `lookup` without its
 * schema: it builds here, but pg_restore, which runs with an empty search_path, fails on
 * it once the data of items is in.
 */
async function failingLate(db: TestDatabase): Promise<void> {
  await withClientAt(db.url, async (c) => {
    await c.query('create table lookup (id int primary key)');
    await c.query('insert into lookup values (1)');
    await c.query('create table items (id int primary key, label text not null)');
    await c.query(`insert into items select g, 'item ' || g from generate_series(1, 5000) g`);
    await c.query(
      'create function pick(v int) returns int language plpgsql immutable ' +
        'as $$ begin return v + (select count(*) from lookup)::int * 0; end $$',
    );
    await c.query('create index items_pick on items (pick(id))');
  });
}

/** The TOC entry of the index pg_restore fails on, as pg_restore --list names it. */
function tocEntryOf(file: string, index: string): { entry: string; oid: string } {
  const list = execFileSync('pg_restore', ['--list', file], { encoding: 'utf8' });
  const m = new RegExp(`^(\\d+); 1259 (\\d+) INDEX public ${index} `, 'm').exec(list);
  if (!m) throw new Error(`no INDEX ${index} in the archive's TOC`);
  return { entry: m[1]!, oid: m[2]! };
}

/** Sends `signal` to upkit once one of pg_restore's jobs is building the slow index in the new database. */
type Seen = { datname: string; jobs: number } | undefined;

function stopWhileIndexing(
  db: TestDatabase,
  signal: NodeJS.Signals,
): { onSpawn: (pid: number) => void; seen: Promise<Seen>; done: () => void } {
  let watching = true;
  let resolveSeen: (seen: Seen) => void = () => {};
  const seen = new Promise<Seen>((res) => (resolveSeen = res));
  return {
    seen,
    done: () => {
      watching = false;
      resolveSeen(undefined);
    },
    onSpawn: (pid) => {
      void (async () => {
        while (watching) {
          const { rows } = await withAdminClient((c) =>
            c.query<{ datname: string; jobs: number }>(
              `select datname, (select count(*)::int from pg_stat_activity b where ` +
                `b.datname = a.datname and b.application_name = a.application_name) as jobs
                 from pg_stat_activity a where starts_with(datname, ` +
                `$1) and a.query ilike 'CREATE INDEX slow_items_slow%'`,
              [`${db.name}_`],
            ),
          );
          if (rows[0]) {
            process.kill(pid, signal);
            resolveSeen(rows[0]);
            return;
          }
          await new Promise((res) => setTimeout(res, 20));
        }
      })();
    },
  };
}

function expectNoRestorer(file: string, r: RunResult): void {
  expect(
    processesWith(file).filter((l) => /pg_restore/.test(l)),
    r.stderr,
  ).toEqual([]);
}

describe('failure catalogue: restores with parallel jobs that fail or are stopped', backupTests(), () => {
  const db = useFreshDatabase();

  it('restore.fails-late', async () => {
    await failingLate(db());
    const backup = await backupOf(db());
    const before = await dbState(db().url);
    const c = failureCase('restore.fails-late');
    const r = await runCase(
      c,
      {
        file: backup.path,
        url: db().url,
        database: db().name,
        user: db().user,
        ...tocEntryOf(backup.path, 'items_pick'),
      },
      { timeoutMs: 90_000 },
    );
    const restored = /✖ pg_restore → (\S+) /.exec(r.stderr)?.[1] ?? '(no pg_restore line)';
    expectCase(r, c, { ...r.vars, restored });
    expect(restored).toMatch(new RegExp(`^${db().name}_restore_\\d{8}t\\d{6}z$`));
    // The data of items, which the failing index needs, had been committed by pg_restore's jobs.
    expect(r.logs()).toMatch(/pg_restore: +finished item \d+ TABLE DATA items\n/);
    expect(await companions(db())).toEqual([]);
    await expectUnchanged(db().url, before);
    expectNoRestorer(backup.path, r);
  });

  it('--into: pg_restore failing on a late entry leaves no database of that name, the live one untouched', async () => {
    await failingLate(db());
    const backup = await backupOf(db());
    const before = await dbState(db().url);
    const into = `${db().name}_copy`;
    const r = await runUpkit('scripts/restore.ts', [backup.path, '--into', into, '--yes'], {
      env: { DATABASE_URL: db().url },
      timeoutMs: 90_000,
    });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(
      `✖ pg_restore → ${into}  pg_restore failed in ${into}: ERROR: relation "lookup" does not exist`,
    );
    expect(r.stderr).toContain(`${into} was dropped; ${db().name} was not changed`);
    expect(r.logs()).toMatch(/pg_restore: +finished item \d+ TABLE DATA items\n/);
    expect(await companions(db())).toEqual([]);
    await expectUnchanged(db().url, before);
    expectNoRestorer(backup.path, r);
  });

  it('restore.sigterm-jobs', { timeout: 150_000 }, async () => {
    await slowToIndex(db());
    const backup = await backupOf(db());
    const before = await dbState(db().url);
    const c = failureCase('restore.sigterm-jobs');
    const stop = stopWhileIndexing(db(), 'SIGTERM');
    const r = await runCase(
      c,
      { file: backup.path, url: db().url },
      { timeoutMs: 120_000, onSpawn: stop.onSpawn },
    ).finally(stop.done);
    const seen = await stop.seen;
    // pg_restore's jobs: the one building the index and at least one more connection.
    expect(seen?.jobs, r.stderr).toBeGreaterThanOrEqual(2);
    const restored = seen?.datname;
    expect(restored, `the restore ended before pg_restore built the index\n${r.stderr}`).toMatch(
      new RegExp(`^${db().name}_restore_\\d{8}t\\d{6}z$`),
    );
    expectCase(r, c, { ...r.vars, restored: restored! });
    expect(r.stderr).toContain(`${restored} was dropped; ${db().name} was not changed`);
    expect(await companions(db())).toEqual([]);
    await expectUnchanged(db().url, before);
    expectNoRestorer(backup.path, r);
  });

  it('--into, SIGTERM while pg_restore builds an index: the new database is dropped, exit 130', {
    timeout: 150_000,
  }, async () => {
    await slowToIndex(db());
    const backup = await backupOf(db());
    const before = await dbState(db().url);
    const into = `${db().name}_copy`;
    const stop = stopWhileIndexing(db(), 'SIGTERM');
    const r = await runUpkit('scripts/restore.ts', [backup.path, '--into', into, '--yes'], {
      env: { DATABASE_URL: db().url },
      timeoutMs: 120_000,
      onSpawn: stop.onSpawn,
    }).finally(stop.done);
    expect(await stop.seen, r.stderr).toEqual({ datname: into, jobs: expect.any(Number) });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain(`✖ pg_restore → ${into}  interrupted by SIGTERM`);
    expect(r.stderr).toContain(`${into} was dropped; ${db().name} was not changed`);
    expect(await companions(db())).toEqual([]);
    await expectUnchanged(db().url, before);
    expectNoRestorer(backup.path, r);
  });
});
