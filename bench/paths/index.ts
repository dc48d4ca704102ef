// The longest path: a Pulse v1.0 install with many users brought to the latest release.
// upkit (backup included) against what operators did before: `pg_dump | gzip` as
// upgrade.sh did, then `psql -f` of each legacy file and of each drizzle migration.
// Both start from identical copies of the same database.
// Run: npm run bench:paths [-- --users N]. Writes the `paths` section of BENCHMARKS.md.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { VERSION } from '../../lib/cli.ts';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { readLegacyManifest } from '../../lib/legacy/manifest.ts';
import { libpqEnv } from '../../lib/pgEnv.ts';
import { chooseForServer, findBinaries } from '../../lib/pgTools.ts';
import { ReportBuilder } from '../../lib/report.ts';
import { runUpgrade } from '../../lib/upgrade.ts';
import { pulseProfile } from '../../profiles/pulse.ts';
import { buildRelease, DRIZZLE_DIR, LEGACY_DIR } from '../../test/support/releases.ts';
import {
  benchServer,
  configFor,
  fmt,
  recreateDatabase,
  silentLogger,
  time,
  urlFor,
  withClient,
  writeSection,
} from '../support.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { users: { type: 'string', default: '1000000' } }, strict: true });
const users = Number(values.users);

const server = await benchServer();
const work = mkdtempSync(path.join(tmpdir(), 'upkit-bench-paths-'));
try {
  const source = await recreateDatabase(server, 'bench_paths_source');
  console.error(`building a v1.0 install with ${users} users…`);
  const build = await time(() =>
    withClient(source, (c) => buildRelease(c, 'v1.0', { data: { users } }).then(() => c.query('vacuum analyze'))),
  );
  const bytes = await withClient(source, async (c) =>
    Number((await c.query('select pg_database_size(current_database()) as b')).rows[0].b),
  );
  console.error(`built ${(bytes / 1024 ** 3).toFixed(2)} GB in ${fmt(build.ms)}`);
  const copy = async (name: string) => {
    await withClient(server.adminUrl, async (c) => {
      await c.query(`drop database if exists ${name} with (force)`);
      await c.query(`create database ${name} template bench_paths_source`);
    });
    return urlFor(server, name);
  };

  const peerUrl = await copy('bench_paths_peer');
  const peerConfig = configFor(peerUrl);
  const env = libpqEnv(peerConfig.db, peerConfig);
  const bin = chooseForServer(await findBinaries('psql'), server.majorVersion)!;
  const pgDump = chooseForServer(await findBinaries('pg_dump'), server.majorVersion)!;
  const peer = await time(async () => {
    await run('bash', ['-c', '"$PG_DUMP" | gzip > "$OUT"'], {
      env: { ...env, PG_DUMP: pgDump.path, OUT: path.join(work, 'peer.sql.gz') },
    });
    for (const f of readLegacyManifest(LEGACY_DIR).files)
      await run(bin.path, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', f.path], { env });
    for (const m of readMigrations(DRIZZLE_DIR).slice(1))
      await run(bin.path, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', m.path], { env });
  });

  const upkitUrl = await copy('bench_paths_upkit');
  const config = configFor(upkitUrl, { BACKUP_DIR: path.join(work, 'backups') });
  const report = new ReportBuilder('upgrade', VERSION);
  const log = silentLogger('upgrade');
  const upkit = await time(() =>
    runUpgrade(config, log, report, {
      profile: pulseProfile(),
      dryRun: false,
      allowDestructive: false,
      upkitVersion: VERSION,
      command: 'upgrade',
    }),
  );
  if (upkit.result !== 0)
    throw new Error(`upkit exited ${upkit.result}: ${JSON.stringify(report.findings.slice(0, 3))}`);
  const phases = log.steps.map((s) => `${s.name.split(/[ :]/)[0]} ${fmt(s.durationMs)}`).join(', ');
  const ratio = upkit.ms / peer.ms;
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, ` +
      `PostgreSQL ${server.version} (${server.source}); a v1.0 install with ` +
      `${users} users (${(bytes / 1024 ** 3).toFixed(2)} GB), copied for each side.`,
    '',
    '| v1.0 → v2.3 | time | ratio |',
    '| --- | --- | --- |',
    `| \`pg_dump \\| gzip\`, then \`psql -f\` of the 5 legacy files and of drizzle 0001–0003 (peer: ` +
      `the upgrade.sh way, no verification, drizzle's ledger left empty) | ${fmt(peer.ms)} | 1.00× |`,
    `| **upkit upgrade** (verified backup, legacy, baseline, drizzle, ` +
      `seed, verification) | ${fmt(upkit.ms)} | **${ratio.toFixed(2)}×** |`,
    '',
    `upkit's phases: ${phases}. Target ≤ 1.0×: ` +
      `${ratio <= 1 ? 'met' : `missed by ${((ratio - 1) * 100).toFixed(0)} points`}.`,
  ].join('\n');
  console.log(body);
  writeSection('paths', body);
} finally {
  rmSync(work, { recursive: true, force: true });
  await server.stop();
}
