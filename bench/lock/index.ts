// The worst stall an application sees while a migration needs a lock that a long
// transaction holds: drizzle-orm's migrator (waits with no lock timeout, and every later
// query queues behind it) against upkit (gives way after lock_timeout and retries).
// A table of 10,000 rows; a transaction reads it and stays open for 20 s; the migration
// adds a column; an application loop queries the table every 20 ms.
// Run: npm run bench:lock. Writes the `lock` section of BENCHMARKS.md.
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { VERSION } from '../../lib/cli.ts';
import { ReportBuilder } from '../../lib/report.ts';
import { runUpgrade } from '../../lib/upgrade.ts';
import { pulseProfile } from '../../profiles/pulse.ts';
import { benchServer, configFor, fmt, recreateDatabase, silentLogger, withClient, writeSection } from '../support.ts';

const BLOCK_MS = 20_000;
const LOCK_TIMEOUT_MS = 150;

function folder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-bench-lock-'));
  mkdirSync(path.join(dir, 'meta'));
  writeFileSync(path.join(dir, '0000_add_column.sql'), 'ALTER TABLE "items" ADD COLUMN "note" text;');
  writeFileSync(
    path.join(dir, 'meta', '_journal.json'),
    JSON.stringify({
      version: '7',
      dialect: 'postgresql',
      entries: [{ idx: 0, version: '7', when: 1700000000000, tag: '0000_add_column', breakpoints: true }],
    }),
  );
  writeFileSync(
    path.join(dir, 'meta', '0000_snapshot.json'),
    JSON.stringify({
      id: '00000000-0000-0000-0000-000000000000',
      prevId: '00000000-0000-0000-0000-000000000000',
      version: '7',
      dialect: 'postgresql',
      tables: {},
      enums: {},
      schemas: {},
      sequences: {},
      roles: {},
      policies: {},
      views: {},
      _meta: { columns: {}, schemas: {}, tables: {} },
    }),
  );
  return dir;
}

async function scenario(
  url: string,
  migrateFn: () => Promise<unknown>,
): Promise<{ worstMs: number; migrateMs: number; outcome: string }> {
  await withClient(url, async (c) => {
    await c.query(
      'drop table if exists items; drop schema if exists drizzle cascade; drop schema if exists upkit cascade',
    );
    await c.query('create table items as select i as id, md5(i::text) as name from generate_series(1, 10000) i');
  });
  const blocker = new pg.Client({ connectionString: url });
  const app = new pg.Client({ connectionString: url });
  await Promise.all([blocker.connect(), app.connect()]);
  await blocker.query('begin');
  await blocker.query('select count(*) from items');
  const release = setTimeout(() => void blocker.query('commit'), BLOCK_MS);
  let worst = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await app.query('select count(*) from items where id = 42');
      worst = Math.max(worst, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const t0 = performance.now();
  let outcome = 'applied';
  try {
    await migrateFn();
  } catch (err) {
    outcome = `stopped: ${(err as Error).message.slice(0, 120)}`;
  }
  const migrateMs = performance.now() - t0;
  running = false;
  await loop;
  clearTimeout(release);
  await blocker.query('commit').catch(() => {});
  await Promise.all([blocker.end(), app.end()]);
  return { worstMs: worst, migrateMs, outcome };
}

const server = await benchServer();
try {
  const url = await recreateDatabase(server, 'bench_lock');
  const dir = folder();
  const drizzleRun = await scenario(url, () => withClient(url, (c) => migrate(drizzle(c), { migrationsFolder: dir })));
  const config = {
    ...configFor(url, {
      LOCK_TIMEOUT: String(LOCK_TIMEOUT_MS),
      LOCK_RETRIES: '8',
      UPKIT_DRIZZLE_DIR: dir,
      BACKUP_DIR: path.join(dir, 'backups'),
    }),
  };
  const upkitRun = await scenario(url, async () => {
    const code = await runUpgrade(config, silentLogger('upgrade'), new ReportBuilder('upgrade', VERSION), {
      profile: pulseProfile(),
      dryRun: false,
      allowDestructive: false,
      upkitVersion: VERSION,
      command: 'upgrade',
    });
    if (code !== 0 && code !== 4) throw new Error(`exit ${code}`);
  });
  const ratio = upkitRun.worstMs / drizzleRun.worstMs;
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, ` +
      `PostgreSQL ${server.version} (${server.source}). A 10,000-row table; a transaction holds a read lock on it ` +
      `for ${BLOCK_MS / 1000} s; the migration adds a column; the application queries the table every 20 ms.`,
    '',
    '| migrator | worst application query | migration took | outcome |',
    '| --- | --- | --- | --- |',
    `| drizzle-orm \`migrate()\` (peer) | ${fmt(drizzleRun.worstMs)}` +
      ` | ${fmt(drizzleRun.migrateMs)} | ${drizzleRun.outcome} |`,
    `| **upkit** (LOCK_TIMEOUT=${LOCK_TIMEOUT_MS} ms, LOCK_RETRIES=8) | **${fmt(upkitRun.worstMs)}` +
      `** | ${fmt(upkitRun.migrateMs)} (backup included) | ${upkitRun.outcome} |`,
    '',
    `Ratio of worst stalls, upkit / drizzle: **${ratio.toFixed(3)}×**. Targets: ` +
      `≤ lock timeout + 100 ms (${LOCK_TIMEOUT_MS + 100} ms): ` +
      `${upkitRun.worstMs <= LOCK_TIMEOUT_MS + 100 ? 'met' : 'missed'}; ` +
      `≤ 0.1× drizzle: ${ratio <= 0.1 ? 'met' : 'missed'}.`,
  ].join('\n');
  console.log(body);
  writeSection('lock', body);
} finally {
  await server.stop();
}
