// Health checks against real HTTP servers on loopback and a real PostgreSQL database.
import { createServer, type RequestListener, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { checkHealth, HealthError } from '../../lib/health/index.ts';
import { createLogger } from '../../lib/log.ts';
import { runUpkit } from '../support/cli.ts';
import { runInProcess } from '../support/inProcess.ts';
import { useFreshDatabase } from '../support/database.ts';
import { asRelease, type FixtureRelease } from '../support/releases.ts';
import { freePort } from '../support/servers/common.ts';
import { DURATION } from '../support/logLines.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listen(handler: RequestListener, port = 0): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function quietLogger() {
  let out = '';
  const write = (s: string) => {
    out += s;
    return true;
  };
  const stream = { write, isTTY: false } as unknown as NodeJS.WriteStream;
  return { log: createLogger({ command: 'test', stream, interactive: false, logDir: false }), output: () => out };
}

function config(env: Record<string, string>) {
  return loadConfig({
    env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none', ...env },
    cwd: mkdtempSync(path.join(tmpdir(), 'upkit-health-')),
  });
}

describe('health checks (library)', () => {
  it('waits for an endpoint that starts listening only after 1.5 s', async () => {
    const port = await freePort();
    let asked = 0;
    setTimeout(
      () =>
        void listen((_q, res) => {
          asked += 1;
          res.end('ok');
        }, port),
      1500,
    );
    const { log } = quietLogger();
    const result = await checkHealth(config({ HEALTHCHECK_URLS: `http://127.0.0.1:${port}/health` }), log, {
      timeoutMs: 10_000,
      checkDatabase: false,
    });
    const e = result.endpoints[0]!;
    expect(result.ok).toBe(true);
    expect(e).toMatchObject({ url: `http://127.0.0.1:${port}/health`, started: true, healthy: true });
    // Asked at 0, 0.25, 0.75 and 1.75 s: refused until it listens, then answered.
    expect(e.attempts).toBeGreaterThanOrEqual(3);
    expect(e.attempts).toBeLessThanOrEqual(5);
    // Healthy on the first request the endpoint received: every attempt before it was refused
    // (not answered), and the verdict is that answer's.
    expect(asked).toBe(1);
    expect(e.last).toMatchObject({ status: 200 });
  });

  it('passes an endpoint that answers 500 before it answers 200, and says it was started all along', async () => {
    let calls = 0;
    const port = await listen((_q, res) => {
      calls += 1;
      res.statusCode = calls <= 2 ? 500 : 200;
      res.end(calls <= 2 ? 'booting' : '{"status":"ok"}');
    });
    const { log, output } = quietLogger();
    const result = await checkHealth(config({ HEALTHCHECK_URLS: `http://127.0.0.1:${port}/healthz` }), log, {
      timeoutMs: 10_000,
      checkDatabase: false,
    });
    expect(result.endpoints[0]).toMatchObject({
      started: true,
      healthy: true,
      attempts: 3,
      last: { status: 200, body: '{"status":"ok"}' },
    });
    expect(output()).toMatch(
      new RegExp(`http://127\\.0\\.0\\.1:${port}/healthz: started, healthy: 200 after ${DURATION} \\(3 attempts\\)`),
    );
  });

  it('gives up at the timeout on an endpoint nobody answers, saying the connection was refused', async () => {
    const port = await freePort();
    const { log } = quietLogger();
    const err = await checkHealth(config({ HEALTHCHECK_URLS: `http://127.0.0.1:${port}/health` }), log, {
      timeoutMs: 1000,
      checkDatabase: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HealthError);
    const h = err as HealthError;
    expect(h.exitCode).toBe(6);
    expect(h.details).toEqual([
      expect.stringMatching(
        new RegExp(
          `^http://127\\.0\\.0\\.1:${port}/health: not started: ` +
            `connection refused \\(ECONNREFUSED\\) \\(\\d attempts\\)$`,
        ),
      ),
    ]);
  });

  it('uses the database check the caller passes', async () => {
    const port = await listen((_q, res) => res.end('ok'));
    const { log } = quietLogger();
    let asked = 0;
    const check = async () => ({
      migrated: ++asked >= 2,
      release: 'r2',
      expected: 'r2',
      pending: [],
      detail: asked >= 2 ? 'fine' : 'not yet',
    });
    const result = await checkHealth(config({ HEALTHCHECK_URLS: `http://127.0.0.1:${port}/` }), log, {
      timeoutMs: 5000,
      checkDatabase: check,
    });
    expect(result.database).toMatchObject({ migrated: true, attempts: 2, detail: 'fine' });
  });
});

describe('npx zx scripts/health.ts', () => {
  const db = useFreshDatabase();

  async function at(release: FixtureRelease): Promise<void> {
    await asRelease(db(), release, { data: false });
  }

  it('never healthy: exit 6 after HEALTH_TIMEOUT with the last answer of each endpoint, redacted', async () => {
    await at('v2.3');
    const secret = 'Hc-Secret-0042';
    let asked = 0;
    const port = await listen((_q, res) => {
      asked += 1;
      res.statusCode = 503;
      res.end(`warming up; password=${secret}\n${'.'.repeat(300)}`);
    });
    const closed = await freePort();
    const urls = [
      `http://ops:${secret}@127.0.0.1:${port}/health?token=${secret}`,
      `http://127.0.0.1:${closed}/ready`,
    ].join(',');
    const r = await runUpkit('scripts/health.ts', ['--json'], {
      env: { DATABASE_URL: db().url, HEALTHCHECK_URLS: urls, HEALTH_TIMEOUT: '3000' },
    });
    expect(r.code, r.stderr).toBe(6);
    const lines = r.stderr.split('\n').map((l) => l.replace(/^\S+Z /, ''));
    expect(lines).toContain(
      `✖ health checks failed within 3.0 s: http://127.0.0.1:${port}` +
        `/health?… not healthy, http://127.0.0.1:${closed}/ready not started`,
    );
    // Attempts at 0, 0.25, 0.75, 1.75 and 3 s; the body is redacted before it is cut to 200 characters.
    expect(lines).toContain(
      `    http://127.0.0.1:${port}/health?…: started, not healthy: last answer 503 ` +
        `Service Unavailable "warming up; password=*** ${'.'.repeat(175)}" (5 attempts)`,
    );
    expect(lines).toContain(
      `    http://127.0.0.1:${closed}/ready: not started: connection refused (ECONNREFUSED) (5 attempts)`,
    );
    // It polled until HEALTH_TIMEOUT, not less: the endpoint that answered was asked all five
    // times the schedule has up to 3 s, the last one at the deadline.
    expect(asked).toBe(5);
    expect(lines).toContain(
      '  → check that the platform is started and HEALTHCHECK_URLS points at it, then run: npx zx scripts/health.ts',
    );
    const report = r.json();
    expect(report.exitCode).toBe(6);
    expect(report.findings.map((f) => [f.severity, f.code])).toEqual([
      ['error', 'health.endpoint'],
      ['error', 'health.endpoint'],
      ['info', 'health.migrated'],
    ]);
    for (const text of [r.stdout, r.stderr, r.logs()]) expect(text).not.toContain(secret);
  });

  it('healthy endpoints but the database at v1.2: exit 6 naming the "migrated" state', async () => {
    await at('v1.2');
    const port = await listen((_q, res) => res.end('ok'));
    const r = await runUpkit('scripts/health.ts', [], {
      env: { DATABASE_URL: db().url, HEALTHCHECK_URLS: `http://127.0.0.1:${port}/health`, HEALTH_TIMEOUT: '1500' },
    });
    expect(r.code, r.stderr).toBe(6);
    const lines = r.stderr.split('\n').map((l) => l.replace(/^\S+Z /, ''));
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(
            `^  http://127\\.0\\.0\\.1:${port}/health: started, healthy: 200 after ${DURATION} \\(1 attempt\\)$`,
          ),
        ),
      ]),
    );
    expect(lines).toContain('✖ health checks failed within 1.5 s: database not migrated');
    expect(lines).toContain(
      '    database: not migrated: at v1.2, expected v2.3; drizzle entries pending: ' +
        '0000_init, 0001_api_keys, 0002_audit_logs, 0003_integration_status_enum',
    );
    expect(lines).toContain('  → see what is pending: npx zx scripts/status.ts, then run: npx zx upgrade.ts');
  });

  it('without HEALTHCHECK_URLS says the endpoints are not configured, checks the database, and exits 0', async () => {
    await at('v2.3');
    const r = await runUpkit('scripts/health.ts', ['--json', '--timeout', '5000'], { env: { DATABASE_URL: db().url } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('endpoints not checked: HEALTHCHECK_URLS is not set (the database is still checked)');
    expect(r.stderr).toContain('database: migrated: at v2.3, nothing pending');
    expect(r.json().findings.map((f) => [f.severity, f.code])).toEqual([
      ['info', 'health.not_configured'],
      ['info', 'health.migrated'],
    ]);
  });

  it('refuses a bad --timeout and a bad HEALTH_TIMEOUT with exit 2', async () => {
    // Usage and configuration errors: run in process (test/support/inProcess.ts).
    const flag = await runInProcess('scripts/health.ts', ['--timeout', '2s'], { env: { DATABASE_URL: db().url } });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('✖ --timeout must be a whole number of milliseconds above 0, got "2s"');
    const env = await runInProcess('scripts/health.ts', [], {
      env: { DATABASE_URL: db().url, HEALTH_TIMEOUT: 'soon' },
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('HEALTH_TIMEOUT: must be a whole number of milliseconds above 0, got "soon"');
  });
});
