// A verify report is made to be pasted into tickets: the password must not reach it in any
// format, nor the screen or the log file, including when HEALTHCHECK_URLS holds credentials.
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase, withAdminClient } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

const SENTINEL = 'S3ntinel p@ss:/%# word';
const FORMS = [
  SENTINEL,
  encodeURIComponent(SENTINEL),
  encodeURIComponent(SENTINEL).toLowerCase(),
  'S3ntinel',
  Buffer.from(`admin:${SENTINEL}`).toString('base64'),
];

describe('verify redaction', () => {
  const db = useFreshDatabase();
  const role = `upkit_verify_sentinel_${process.pid}`;
  let server: Server;
  let port = 0;
  const seenAuth: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seenAuth.push(req.headers.authorization ?? '');
      const ok = req.headers.authorization === `Basic ${Buffer.from(`admin:${SENTINEL}`).toString('base64')}`;
      res.statusCode = ok ? (req.url?.startsWith('/health') ? 200 : 500) : 401;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    await withAdminClient((c) => c.query(`drop role if exists ${role}`));
    await withAdminClient((c) =>
      c.query(`create role ${role} login superuser password '${SENTINEL.replace(/'/g, "''")}'`),
    );
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await withAdminClient((c) => c.query(`drop role if exists ${role}`));
  });

  it('keeps the sentinel password out of human, --json and --markdown output and the log file', async () => {
    await asRelease(db(), 'v2.3');
    const c = new pg.Client({ connectionString: db().url });
    await c.connect();
    try {
      // A finding that quotes a value: a hand-added default holding the password.
      await c.query(`alter table users add column note text default ${c.escapeLiteral(SENTINEL)}`);
    } finally {
      await c.end();
    }
    const secret = encodeURIComponent(SENTINEL);
    const url = `postgres://${role}:${secret}@${db().host}:${db().port}/${db().database}`;
    const health = [
      `http://admin:${secret}@127.0.0.1:${port}/health?token=${secret}`,
      `http://admin:${secret}@127.0.0.1:${port}/broken`,
    ].join(',');
    const parts = {
      DB_HOST: db().host,
      DB_PORT: String(db().port),
      DB_USER: role,
      DB_PASSWORD: SENTINEL,
      DB_NAME: db().database,
    };
    const runs = [
      await runUpkit('verify/index.ts', [], { env: { DATABASE_URL: url, HEALTHCHECK_URLS: health } }),
      await runUpkit('verify/index.ts', ['--json'], { env: { DATABASE_URL: url, HEALTHCHECK_URLS: health } }),
      await runUpkit('verify/index.ts', ['--markdown'], { env: { ...parts, HEALTHCHECK_URLS: health } }),
      await runUpkit('verify/index.ts', ['--markdown'], {
        env: { DATABASE_URL: url.replace(db().database, 'no_such_database') },
      }),
    ];
    expect(runs.map((r) => r.code)).toEqual([4, 4, 4, 3]);
    // The credentials did reach the endpoint (decoded), so the check was real.
    expect(seenAuth.filter((a) => a.startsWith('Basic ')).length).toBeGreaterThanOrEqual(6);
    const report = runs[1]!.json();
    expect(
      report.findings
        .filter((f) => f.code === 'runtime.endpoint')
        .map((f) => [f.severity, f.message.replace(/\d+ ms/, 'N ms')]),
    ).toEqual([
      ['info', `http://127.0.0.1:${port}/health?… answered 200 in N ms`],
      ['error', `http://127.0.0.1:${port}/broken answered 500 Internal Server Error in N ms`],
    ]);
    expect(report.findings.find((f) => f.code === 'schema.extra_column')!.message).toBe(
      "column users.note (text DEFAULT '***'::text) is not in the snapshot: added by hand?",
    );
    expect(runs[2]!.stdout).toMatch(/^### upkit verify: 1 error, 1 warning$/m);
    for (const r of runs) {
      const everything = [r.stdout, r.stderr, r.logs()].join('\n');
      expect(r.logs().length).toBeGreaterThan(0);
      for (const form of FORMS) expect(everything, `leaked "${form}"`).not.toContain(form);
    }
  });
});
