// The password must not leave the process on any path: stdout, stderr, the log file, the
// JSON report, or any process's command line while upkit runs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runUpkit, sampleArgv, type RunResult } from '../support/cli.ts';
import { backupArgs, backupsTestable, useFreshDatabase, withAdminClient } from '../support/database.ts';

const SENTINEL = 'S3ntinel p@ss:/%# word';
const FORMS = [SENTINEL, encodeURIComponent(SENTINEL), encodeURIComponent(SENTINEL).toLowerCase(), 'S3ntinel'];

describe('redaction on every output path', () => {
  const db = useFreshDatabase();

  it('keeps the sentinel password out of output, logs, reports and argv', { timeout: 180_000 }, async () => {
    const role = `upkit_sentinel_${process.pid}`;
    await withAdminClient((c) => c.query(`create role ${role} login superuser password '${SENTINEL}'`));
    try {
      const url = (database: string) =>
        `postgres://${role}:${encodeURIComponent(SENTINEL)}@${db().host}:${db().port}/${database}`;
      const parts = {
        DB_HOST: db().host,
        DB_PORT: String(db().port),
        DB_USER: role,
        DB_PASSWORD: SENTINEL,
        DB_NAME: db().database,
      };
      const envDir = mkdtempSync(path.join(tmpdir(), 'upkit-envfile-'));
      writeFileSync(path.join(envDir, 'pulse.env'), `DATABASE_URL=${url(db().database)}\nDB_PASSWORD="${SENTINEL}"\n`, {
        mode: 0o600,
      });

      const runs: Array<[string, number, Promise<RunResult>]> = [];
      const { result } = await sampleArgv(async () => {
        const all: RunResult[] = [];
        const cases: Array<[string, string[], Record<string, string>, number]> = [
          ['scripts/preflight.ts', ['--json', ...backupArgs()], { DATABASE_URL: url(db().database) }, 0],
          ['scripts/preflight.ts', backupArgs(), parts, 0],
          ['scripts/preflight.ts', ['--json', '--env-file', path.join(envDir, 'pulse.env'), ...backupArgs()], {}, 0],
          ['scripts/preflight.ts', ['--json'], { DATABASE_URL: url('no_such_database') }, 3],
          ['scripts/preflight.ts', ['--json'], { DATABASE_URL: `postgres://${role}:${SENTINEL}@${db().host}/x` }, 2],
          ['scripts/preflight.ts', ['--json'], { ...parts, DB_NAME: '', DATABASE_SSL: 'bogus' }, 2],
          // Problems that echo a value: a password pasted into the wrong key, a URL with credentials.
          [
            'scripts/preflight.ts',
            ['--json'],
            {
              ...parts,
              DATABASE_SSL: SENTINEL,
              HEALTHCHECK_URLS: `ftp://admin:${encodeURIComponent(SENTINEL)}@app/health`,
            },
            2,
          ],
          [
            'upgrade.ts',
            ['--json', '--yes', ...backupArgs()],
            { DATABASE_URL: url(db().database), BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')) },
            0,
          ],
          ['verify/index.ts', ['--markdown'], { DATABASE_URL: url(db().database) }, 0],
          ['scripts/status.ts', ['--json'], { DATABASE_URL: url(db().database) }, 0],
          // Where no pg_dump here can dump the server, its refusal (exit 3) is what is checked.
          [
            'scripts/backup.ts',
            ['--json', '--backup-dir', mkdtempSync(path.join(tmpdir(), 'upkit-bk-'))],
            { DATABASE_URL: url(db().database) },
            backupsTestable() ? 0 : 3,
          ],
        ];
        for (const [entry, args, env, code] of cases) {
          // As operators start it (`npx zx FILE`): the argv sampled is theirs.
          const r = await runUpkit(entry, args, { env, via: 'zx' });
          runs.push([`case ${runs.length + 1}: ${entry} ${args.join(' ')}`, code, Promise.resolve(r)]);
          all.push(r);
        }
        return all;
      });
      expect(result).toHaveLength(11);
      for (const [name, code, pending] of runs) {
        const r = await pending;
        expect(r.code, `${name}: ${r.stderr}`).toBe(code);
        if (name.includes('--json')) expect(() => r.json(), name).not.toThrow();
        const everything = [r.stdout, r.stderr, r.logs()].join('\n');
        expect(r.logs().length, `${name} wrote a log file`).toBeGreaterThan(0);
        for (const form of FORMS) expect(everything, `${name} leaked "${form}"`).not.toContain(form);
      }
      // The sampler saw the children run; none of their command lines held the password.
      const { commandLines } = await sampleArgv(async () =>
        runUpkit('scripts/preflight.ts', [], { env: parts, via: 'zx' }),
      );
      const seen = [...commandLines].filter((l) => l.includes('preflight.ts'));
      expect(seen.length).toBeGreaterThan(0);
      for (const line of commandLines) for (const form of FORMS) expect(line).not.toContain(form);
    } finally {
      // The upgrade made objects owned by the role: they go with the database, the role after them.
      await withAdminClient((c) => c.query(`drop owned by ${role}`), db().database).catch(() => {});
      await withAdminClient((c) => c.query(`drop role if exists ${role}`));
    }
  });
});
