// The failure catalogue's cases of directory-format backups (test/failures/hardening/backupspeed.ts):
// a folder whose files no longer match its manifest is refused by restore; a killed run's
// partial folder is swept only when it holds nothing but pg_dump's files. The size from
// which a table counts as large is lowered (UPKIT_BACKUP_LARGE_TABLE_BYTES) so that the
// small v2.3 fixture takes the directory format.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256File } from '../../lib/backup/archive.ts';
import { hostLabel, processSpace } from '../../lib/backup/partial.ts';
import { findClientBinaries } from '../../lib/backup/strategy.ts';
import { expectCase, failureCase, runCase } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { backup, companions, manifestOf, RESTORE, SMALL_LARGE, tempDir } from '../support/backupFormat.ts';

describe('failure catalogue: directory-format backups', backupTests(), () => {
  const db = useFreshDatabase();
  afterEach(async () => {
    for (const name of await companions(db()))
      await withAdminClient((c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`));
  });

  it(
    'refuses to restore a folder in which a file changed, ' +
      'one is missing, or one was added: exit 3, nothing created',
    async () => {
      await asRelease(db(), 'v2.3');
      const { path: archive } = await backup(db(), tempDir('upkit-bkdir-'));
      const m = manifestOf(archive);
      const data = m.files!.filter((f) => f.name !== 'toc.dat').sort((a, b) => b.bytes - a.bytes)[0]!;
      const file = path.join(archive, data.name);
      const original = readFileSync(file);
      const into = `${db().name}_copy`;
      const attempt = () => runUpkit(RESTORE, [archive, '--into', into, '--yes'], { env: { DATABASE_URL: db().url } });

      // One byte changed, same size.
      const changed = Buffer.from(original);
      changed.writeUInt8(changed.readUInt8(changed.length - 1) ^ 0xff, changed.length - 1);
      writeFileSync(file, changed);
      const vars = {
        url: db().url,
        archive,
        into,
        file,
        name: data.name,
        expected: data.sha256,
        actual: await sha256File(file),
      };
      const changedCase = failureCase('backupspeed.dir-file-changed');
      expectCase(await runCase(changedCase, vars), changedCase, vars);

      // Cut short.
      writeFileSync(file, original.subarray(0, original.length - 1));
      let r = await attempt();
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`${file} is ${original.length - 1} bytes`);

      // Missing, then one file too many.
      unlinkSync(file);
      const missingCase = failureCase('backupspeed.dir-file-missing');
      expectCase(await runCase(missingCase, vars), missingCase, vars);
      writeFileSync(file, original);
      appendFileSync(path.join(archive, '99999.dat.gz'), 'x');
      r = await attempt();
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(
        `backup folder ${archive} holds 99999.dat.gz that its manifest does not list: changed or damaged`,
      );
      expect(await companions(db())).toEqual([]);

      // Put back as it was: restores.
      rmSync(path.join(archive, '99999.dat.gz'));
      r = await attempt();
      expect(r.code, r.stderr).toBe(0);
    },
  );

  it(
    "sweeps a killed run's partial folder only when every file " +
      "in it is pg_dump's; another writer's live folder stays",
    async () => {
      await asRelease(db(), 'v2.3');
      const dir = tempDir('upkit-bkdir-');
      // A writer that has ended: the pid of a process that ran and exited.
      const gone = spawn('true');
      await once(gone, 'exit');
      const deadPid = gone.pid!;
      const partialName = (stamp: string, host = hostLabel(), pid = deadPid) =>
        `${db().database}-${stamp}.dump.${host}.${pid}.${processSpace()}.partial`;
      // A real directory-format dump, as a killed run leaves it (pg_dump had written its files).
      const { dumps } = await findClientBinaries({ pgBinDir: undefined });
      const pgDump = dumps.find((b) => b.major >= 15)!;
      const killed = path.join(dir, partialName('20261201T000000Z'));
      mkdirSync(killed, { mode: 0o700 });
      const dumped = spawnSync(pgDump.path, ['--format=directory', '--jobs=2', `--file=${killed}`, db().url], {
        encoding: 'utf8',
      });
      expect(dumped.status, dumped.stderr).toBe(0);
      // The same kind of name, but holding a file pg_dump never writes: not provably upkit's.
      const foreign = path.join(dir, partialName('20261201T000001Z'));
      mkdirSync(foreign);
      writeFileSync(path.join(foreign, 'toc.dat'), '');
      writeFileSync(path.join(foreign, 'important.txt'), 'not a dump');
      // A live writer on another machine sharing the folder: fresh, so not stale.
      const live = path.join(dir, partialName('20261201T000002Z', 'other-host', 4242));
      mkdirSync(live);
      writeFileSync(path.join(live, 'toc.dat'), '');

      const c = failureCase('backupspeed.partial-foreign');
      const vars = { url: db().url, dir, partial: path.basename(foreign) };
      const r = await runCase(c, vars, { extraEnv: SMALL_LARGE });
      expectCase(r, c, vars);
      expect(existsSync(killed)).toBe(false);
      expect(r.stderr).toContain(
        `removed ${path.basename(killed)}, left by an interrupted backup (pid ${deadPid} on this host has ended)`,
      );
      expect(readdirSync(foreign).sort()).toEqual(['important.txt', 'toc.dat']);
      expect(readdirSync(live)).toEqual(['toc.dat']);
    },
  );
});
