// No Docker engine runs on these machines: the compose path is tested against a recorded
// stand-in for the docker CLI (test/fixtures/fake-docker) that runs this machine's pg_dump.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseForServer, findBinaries } from '../../lib/pgTools.ts';
import { ROOT, runUpkit } from '../support/cli.ts';
import { backupTests, serverInfo, useFreshDatabase } from '../support/database.ts';

describe('backup inside the compose database service', backupTests(), () => {
  const db = useFreshDatabase();

  it('runs pg_dump with exec -T, passes credentials by name only, and verifies the archive', async () => {
    const pgDump = chooseForServer(await findBinaries('pg_dump'), serverInfo().majorVersion);
    expect(pgDump, 'a pg_dump for the test server').toBeDefined();
    const work = mkdtempSync(path.join(tmpdir(), 'upkit-compose-'));
    const composeFile = path.join(work, 'docker-compose.yml');
    writeFileSync(composeFile, 'services:\n  db:\n    image: postgres\n');
    const dockerLog = path.join(work, 'docker.log');
    const r = await runUpkit('scripts/backup.ts', ['--json', '--backup-dir', path.join(work, 'backups')], {
      env: {
        DATABASE_URL: db().url,
        COMPOSE_FILE: composeFile,
        UPKIT_PG_BINDIR: mkdtempSync(path.join(tmpdir(), 'upkit-nobin-')),
        PATH: `${path.join(ROOT, 'test/fixtures/fake-docker')}:${process.env.PATH}`,
        FAKE_PG_BIN: pgDump!.binDir,
        FAKE_DOCKER_LOG: dockerLog,
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('backup with pg_dump');
    expect(r.stderr).toContain('inside compose service "db" (no local pg_dump of');
    const calls = readFileSync(dockerLog, 'utf8').trim().split('\n');
    const project = `compose --project-directory ${work} -f ${composeFile}`;
    expect(calls).toContain('compose version --short');
    expect(calls.find((c) => c.includes(' pg_dump --format=custom'))).toMatch(
      new RegExp(
        `^${project} exec -T -e PGUSER -e PGDATABASE -e PGPASSWORD db pg_dump ` +
          `--format=custom --compress=1 --snapshot=\\S+ --lock-wait-timeout=60000 --no-password$`,
      ),
    );
    expect(calls).toContain(`${project} exec -T db pg_restore --list`);
    for (const c of calls) expect(c).not.toContain(db().password);
    const report = r.json() as { backup: { path: string; bytes: number } };
    const manifest = JSON.parse(readFileSync(`${report.backup.path}.json`, 'utf8'));
    expect(manifest.pgDump).toMatchObject({ via: 'compose', path: 'compose service db' });
    expect(manifest.bytes).toBe(report.backup.bytes);
  });
});
