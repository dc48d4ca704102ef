import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runNpxZx, runUpkit } from '../support/cli.ts';
import { runInProcess } from '../support/inProcess.ts';
import { backupArgs, backupsTestable, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { DURATION } from '../support/logLines.ts';

const PREFLIGHT = 'scripts/preflight.ts';
// Roles belong to the whole server, which test files share: names of their own avoid clashes.
const PARTS_ROLE = `upkit_parts_${process.pid}`;
const READER_ROLE = `upkit_reader_${process.pid}`;

function urlWith(db: { host: string; port: number; database: string }, user: string, password: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${db.host}:${db.port}/${db.database}`;
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.includes('✖'));
}

describe('preflight', () => {
  const db = useFreshDatabase();

  it('passes on a good database and reports every check', async () => {
    // Where no pg_dump here can dump the server, --no-backup: those two checks are skipped.
    const r = await runUpkit(PREFLIGHT, ['--json', ...backupArgs()], { env: { DATABASE_URL: db().url } });
    expect(r.stderr).toContain('preflight passed');
    expect(r.code).toBe(0);
    const report = r.json();
    expect(report).toMatchObject({ tool: 'upkit', command: 'preflight', status: 'ok', exitCode: 0, findings: [] });
    expect((report.phases as Array<{ name: string; status: string }>).map((p) => [p.name, p.status])).toEqual([
      ['configuration', 'ok'],
      ['connection', 'ok'],
      ['interrupted restore', 'ok'],
      ['server version', 'ok'],
      ['privileges', 'ok'],
      ['schema', 'ok'],
      ['pending changes', 'ok'],
      ['pg_dump', backupsTestable() ? 'ok' : 'skipped'],
      ['backup space', backupsTestable() ? 'ok' : 'skipped'],
      ['compose', 'skipped'],
    ]);
  });

  it('refuses a wrong password with exit 3 and never echoes it', async () => {
    const wrong = 'Wr0ng-Passw0rd-Sentinel';
    const r = await runUpkit(PREFLIGHT, [], { env: { DATABASE_URL: urlWith(db(), db().user, wrong) } });
    expect(r.code).toBe(3);
    expect(errorLines(r.stderr)[0]).toMatch(
      new RegExp(
        `✖ connection {2}password authentication failed for user "` +
          `${db().user}" at ${db().host}:${db().port} \\(${DURATION}\\)$`,
      ),
    );
    expect(r.stderr).toContain('→ check the password (in DATABASE_URL), then run: npx zx scripts/preflight.ts');
    for (const out of [r.stdout, r.stderr, r.logs()]) expect(out).not.toContain(wrong);
  });

  it('refuses an unreachable port with exit 3 at the refusal, without waiting for the connect timeout', async () => {
    // A connect timeout far beyond the runner's kill timer: a run that waited for it, or tried
    // again until it, would be killed without an exit code.
    const r = await runUpkit(PREFLIGHT, [], {
      env: { DATABASE_URL: urlWith({ ...db(), port: 1 }, 'pulse', 'pw12345'), CONNECT_TIMEOUT: '600000' },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot connect to PostgreSQL at ${db().host}:1: connection refused`);
    // One connection attempt; the checks that need it are skipped, not tried again.
    const log = r.logs();
    expect(log.match(/step connection: started/g)).toHaveLength(1);
    expect(log).toMatch(/step connection: failed - cannot connect to PostgreSQL at .*:1: connection refused/);
    expect(log).toMatch(/step server version: skipped - no connection/);
  });

  it('gives up on a server that never answers after the connect timeout, naming host and port', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const r = await runUpkit(PREFLIGHT, [], {
        env: { DATABASE_URL: `postgres://pulse:pw12345@127.0.0.1:${port}/pulse`, CONNECT_TIMEOUT: '1500' },
      });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`no answer from PostgreSQL at 127.0.0.1:${port} within 2 s`);
    } finally {
      silent.close();
    }
  });

  it('stops at once on Ctrl-C with exit 130', async () => {
    // Ctrl-C once preflight is waiting on the connection: its signal handlers are in place by then.
    let child: number | undefined;
    let connections = 0;
    const silent = createServer(() => {
      connections += 1;
      if (child !== undefined) process.kill(child, 'SIGINT');
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      // The connection would wait 10 minutes for its answer, far beyond the runner's kill
      // timer: exit 130 means the signal ended the wait.
      const r = await runUpkit(PREFLIGHT, [], {
        env: { DATABASE_URL: `postgres://pulse:pw12345@127.0.0.1:${port}/pulse`, CONNECT_TIMEOUT: '600000' },
        onSpawn: (pid) => (child = pid),
      });
      expect(r.code).toBe(130);
      expect(r.stderr).toContain('SIGINT received: stopping');
      expect(r.stderr).not.toContain('no answer from PostgreSQL');
      expect(connections).toBe(1);
    } finally {
      silent.close();
    }
  });

  it('runs through npx zx, as operators type it', async () => {
    const r = await runNpxZx(PREFLIGHT, ['--help']);
    expect(r.stderr).not.toContain('ERR_');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: npx zx scripts/preflight.ts [options]');
  });

  it('names a malformed DATABASE_URL with exit 2', async () => {
    // Configuration and usage errors run in process (test/support/inProcess.ts).
    const r = await runInProcess(PREFLIGHT, [], { env: { DATABASE_URL: 'postgres://pulse:pa#ss@db/pulse' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '✖ DATABASE_URL: has a / ? or # in the user name or password that is not ' +
        'percent-encoded (write / as %2F, ? as %3F, # as %23), or set the password in DB_PASSWORD',
    );
    expect(r.stderr).toContain('→ fix DATABASE_URL in the environment, then run: npx zx scripts/preflight.ts');
    expect(r.stderr).not.toContain('pa#ss');
  });

  it('names DB_NAME when the DB_* keys lack it, with exit 2', async () => {
    const r = await runInProcess(PREFLIGHT, [], {
      env: { DB_HOST: db().host, DB_PORT: String(db().port), DB_USER: db().user, DB_PASSWORD: db().password },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DB_NAME: is not set (set DATABASE_URL, or DB_HOST, DB_USER and DB_NAME)');
  });

  it('works with the DB_* keys and a password full of URL characters', async () => {
    const password = 'p@ss:w/rd %#x';
    await withAdminClient((c) => c.query(`create role ${PARTS_ROLE} login password '${password}'`)).catch(() => {});
    await withAdminClient((c) =>
      c.query(`grant all on database ${c.escapeIdentifier(db().database)} to ${PARTS_ROLE}`),
    );
    await withAdminClient((c) => c.query(`grant create on schema public to ${PARTS_ROLE}`), db().database);
    const r = await runUpkit(PREFLIGHT, backupArgs(), {
      env: {
        DB_HOST: db().host,
        DB_PORT: String(db().port),
        DB_USER: PARTS_ROLE,
        DB_PASSWORD: password,
        DB_NAME: db().database,
      },
    });
    expect(r.stderr).toContain(`✔ privileges  ${PARTS_ROLE} can create schemas and tables`);
    expect(r.code).toBe(0);
  });

  it('refuses when no pg_dump fits the server, naming the package to install', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'upkit-nobin-'));
    const r = await runUpkit(PREFLIGHT, [], { env: { DATABASE_URL: db().url, UPKIT_PG_BINDIR: empty } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/✖ pg_dump {2}no pg_dump of PostgreSQL \d+ or newer to back up with \(none found\)/);
    expect(r.stderr).toMatch(
      new RegExp(
        String.raw`→ install one: apt-get install postgresql-client-\d+ .*; or ` +
          'set UPKIT_PG_BINDIR to its directory; nothing was changed',
      ),
    );
  });

  it('refuses a pg_dump older than the server', async () => {
    const bin = mkdtempSync(path.join(tmpdir(), 'upkit-oldbin-'));
    // A stand-in that only answers --version as an old release would; it dumps nothing.
    writeFileSync(path.join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 12.22"\n');
    chmodSync(path.join(bin, 'pg_dump'), 0o755);
    const r = await runUpkit(PREFLIGHT, ['--json'], { env: { DATABASE_URL: db().url, UPKIT_PG_BINDIR: bin } });
    expect(r.code).toBe(3);
    expect(r.json().findings).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'preflight.pg_dump',
        message: expect.stringContaining(`found only 12.22 at ${bin}/pg_dump`),
      }),
    ]);
  });

  it('refuses a role that cannot create objects, with the GRANT to run', async () => {
    await withAdminClient((c) => c.query(`create role ${READER_ROLE} login password 'reader-pw'`)).catch(() => {});
    await withAdminClient((c) => c.query(`revoke create on database ${c.escapeIdentifier(db().database)} from public`));
    // PostgreSQL 14 still grants CREATE on public to everyone; later majors do not.
    await withAdminClient((c) => c.query('revoke create on schema public from public'), db().database);
    const r = await runUpkit(PREFLIGHT, [], { env: { DATABASE_URL: urlWith(db(), READER_ROLE, 'reader-pw') } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      `✖ privileges  role "${READER_ROLE}" lacks CREATE on database ${db().database} and CREATE on schema public`,
    );
    expect(r.stderr).toContain(
      `→ run as an administrator: GRANT CREATE ON DATABASE "${db().database}" TO "${READER_ROLE}";`,
    );
  });

  it('refuses an unknown flag with exit 2 and the usage', async () => {
    const r = await runInProcess(PREFLIGHT, ['--frobnicate'], { env: { DATABASE_URL: db().url } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("✖ Unknown option '--frobnicate'");
    expect(r.stderr).toContain('usage: npx zx scripts/preflight.ts [options]');
  });

  it('changes nothing in the database', async () => {
    const snapshot = () =>
      withAdminClient(
        (c) =>
          c
            .query(
              `select count(*)::int as n from pg_class where relnamespace not in ('pg_catalog'::regnamespace, ` +
                `'information_schema'::regnamespace) and relname not like 'pg_toast%'`,
            )
            .then((r) => r.rows[0].n as number),
        db().database,
      );
    const before = await snapshot();
    await runUpkit(PREFLIGHT, [], { env: { DATABASE_URL: db().url } });
    expect(await snapshot()).toBe(before);
  });
});
