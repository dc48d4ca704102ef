// Catalogue cases (test/failures/hardening/secrets.ts): secrets in settings and in what
// health endpoints echo back, redirect loops, and the time each health request waits. The
// endpoints are real HTTP servers on 127.0.0.1.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, type CaseRun } from '../failures/check.ts';
import { useFreshDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

const servers: Server[] = [];
afterEach(async () => {
  const all = servers.splice(0);
  for (const s of all) s.closeAllConnections();
  await Promise.all(all.map((s) => new Promise((r) => s.close(r))));
});

function listen(handler: RequestListener): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** The --json report's finding for the one endpoint: an error whose message is the line under ✖. */
function expectEndpointFinding(r: CaseRun, message: string): void {
  const report = r.json();
  expect(report.exitCode).toBe(6);
  expect(report.findings.filter((f) => f.code === 'health.endpoint')).toEqual([
    { severity: 'error', code: 'health.endpoint', message, hint: expect.stringContaining('npx zx scripts/health.ts') },
  ]);
}

describe('failure catalogue: secrets and health endpoints', () => {
  const db = useFreshDatabase();
  // Pulse at its latest release: only the endpoints fail.
  beforeEach(async () => {
    await asRelease(db(), 'v2.3', { data: false });
  });
  const vars = () => ({ url: db().url, host: db().host, port: db().port, user: db().user, database: db().database });

  it('sec.health-url-no-scheme', async () => {
    const c = failureCase('sec.health-url-no-scheme');
    const before = await dbState(db().url);
    const r = await runCase(c, vars());
    expectCase(r, c, r.vars);
    for (const text of [r.stdout, r.stderr, r.logs()]) expect(text).not.toContain('S3cret-Hc-77');
    await expectUnchanged(db().url, before);
  });

  it('sec.health-echo-basic', async () => {
    const c = failureCase('sec.health-echo-basic');
    const sent: string[] = [];
    const port = await listen((q, res) => {
      const auth = q.headers.authorization ?? '';
      sent.push(auth);
      const b64 = auth.replace(/^Basic /, '');
      res.writeHead(401, `Bad ${auth}`, { 'content-type': 'text/plain' });
      res.end(
        `denied: ${auth} unpadded=${b64.replace(/=+$/, '')}` +
          ` url=${encodeURIComponent('Echo-Pass-913')} user:pw=${Buffer.from(b64, 'base64').toString()}`,
      );
    });
    const before = await dbState(db().url);
    const r = await runCase({ ...c, json: true }, { ...vars(), port });
    expectCase(r, c, { ...r.vars, attempts: sent.length });
    const b64 = Buffer.from('ops:Echo-Pass-913').toString('base64');
    expect(sent[0]).toBe(`Basic ${b64}`);
    expectEndpointFinding(
      r,
      `http://127.0.0.1:${port}/health: started, not healthy: last answer 401 Bad Basic *** "denied: ` +
        `Basic *** unpadded=*** url=*** user:pw=ops:***" (${sent.length} attempts)`,
    );
    for (const text of [r.stdout, r.stderr, r.logs()]) {
      for (const s of ['Echo-Pass-913', b64, b64.replace(/=+$/, '')]) expect(text).not.toContain(s);
    }
    await expectUnchanged(db().url, before);
  });

  it('sec.health-echo-token-user', async () => {
    const c = failureCase('sec.health-echo-token-user');
    const token = 'tok_9f8e7d6c5b4a';
    let attempts = 0;
    const port = await listen((q, res) => {
      attempts += 1;
      const auth = q.headers.authorization ?? '';
      const user = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':')[0];
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`token ${user} is not allowed (${auth})`);
    });
    const before = await dbState(db().url);
    const r = await runCase({ ...c, json: true }, { ...vars(), port });
    expectCase(r, c, { ...r.vars, attempts });
    expectEndpointFinding(
      r,
      `http://127.0.0.1:${port}/health: started, not healthy: last answer 403 ` +
        `Forbidden "token *** is not allowed (Basic ***)" (${attempts} attempts)`,
    );
    const b64 = Buffer.from(`${token}:`).toString('base64');
    for (const text of [r.stdout, r.stderr, r.logs()]) for (const s of [token, b64]) expect(text).not.toContain(s);
    await expectUnchanged(db().url, before);
  });

  it('sec.health-redirect-loop', async () => {
    const c = failureCase('sec.health-redirect-loop');
    let requests = 0;
    const port = await listen((q, res) => {
      requests += 1;
      res.writeHead(302, { location: q.url === '/a' ? '/b' : '/a' });
      res.end();
    });
    const r = await runCase({ ...c, json: true }, { ...vars(), port });
    // Each attempt asks /a, then /b, and stops at the redirect back to /a.
    expect(requests % 2).toBe(0);
    expectCase(r, c, { ...r.vars, attempts: requests / 2 });
    const base = `http://127.0.0.1:${port}`;
    expectEndpointFinding(
      r,
      `${base}/a: started, not healthy: last answer 302 Found: redirect loop: ` +
        `${base}/a → ${base}/b → ${base}/a (${requests / 2} attempts)`,
    );
  });

  it('sec.health-request-timeout', async () => {
    const c = failureCase('sec.health-request-timeout');
    let requests = 0;
    const port = await listen(() => {
      requests += 1; // never answered
    });
    const r = await runCase({ ...c, json: true }, { ...vars(), port });
    expectCase(r, c, r.vars);
    expect(requests).toBe(2);
    expectEndpointFinding(r, `http://127.0.0.1:${port}/health: not started: no answer within 5000 ms (2 attempts)`);
  }, 30_000);

  it('sec.health-body-controls', async () => {
    const c = failureCase('sec.health-body-controls');
    let attempts = 0;
    const port = await listen((_q, res) => {
      attempts += 1;
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down\u001b[2K\u001b[1G✔ health checks passed\u202e');
    });
    const r = await runCase({ ...c, json: true }, { ...vars(), port });
    expectCase(r, c, { ...r.vars, attempts });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC must not reach the terminal
    for (const text of [r.stderr, r.logs()]) expect(text).not.toMatch(/[\u001b\u202e]/);
    // In JSON the escaped form is what was printed; JSON.stringify keeps it one line anyway.
    expectEndpointFinding(
      r,
      `http://127.0.0.1:${port}/health: started, not healthy: last answer 503 Service ` +
        `Unavailable "down\\u001b[2K\\u001b[1G✔ health checks passed\\u202e" (${attempts} attempts)`,
    );
  });
});
