import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEndpoint, checkRuntime, displayUrl, parseComposePs, serviceFindings } from '../../verify/runtime.ts';

describe('compose ps output', () => {
  const api = {
    Name: 'pulse-api-1',
    Service: 'api',
    State: 'running',
    Health: 'healthy',
    ExitCode: 0,
    Status: 'Up 2 hours (healthy)',
  };
  const job = {
    Name: 'pulse-migrate-1',
    Service: 'migrate',
    State: 'exited',
    Health: '',
    ExitCode: 0,
    Status: 'Exited (0) 2 hours ago',
  };

  it('reads the JSON array of Compose 2.0–2.20 and the lines of 2.21+ alike', () => {
    const fromArray = parseComposePs(JSON.stringify([api, job]));
    const fromLines = parseComposePs(`${JSON.stringify(api)}\n${JSON.stringify(job)}\n`);
    expect(fromArray).toEqual(fromLines);
    expect(fromArray[0]).toEqual({
      service: 'api',
      name: 'pulse-api-1',
      state: 'running',
      health: 'healthy',
      exitCode: 0,
      status: 'Up 2 hours (healthy)',
    });
    expect(parseComposePs('')).toEqual([]);
  });

  it('judges each service: running and healthy is fine, a finished job a warning, anything else an error', () => {
    const containers = parseComposePs(
      [
        api,
        job,
        { ...api, Name: 'pulse-web-1', Service: 'web', Health: 'starting', Status: 'Up 3 seconds (health: starting)' },
        {
          ...api,
          Name: 'pulse-worker-1',
          Service: 'worker',
          State: 'restarting',
          Health: '',
          Status: 'Restarting (1) 4 seconds ago',
        },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n'),
    );
    expect(
      serviceFindings(['api', 'migrate', 'web', 'worker', 'cron'], containers, '/srv/pulse/compose.yml').map((f) => [
        f.severity,
        f.message,
      ]),
    ).toEqual([
      ['info', 'service api is running and healthy (Up 2 hours (healthy))'],
      [
        'warning',
        'service migrate exited with code 0 (Exited (0) 2 hours ago): fine for a one-off job, not for a server',
      ],
      ['warning', 'service web is running, its health check is still starting (Up 3 seconds (health: starting))'],
      ['error', 'service worker is restarting (Restarting (1) 4 seconds ago)'],
      ['error', 'service cron has no container'],
    ]);
  });
});

describe('endpoints', () => {
  let server: Server;
  let base = '';
  const auth: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      auth.push(req.headers.authorization ?? '');
      if (req.url === '/slow') return; // never answers
      res.statusCode = req.url?.startsWith('/ok') ? 204 : 502;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('shows a URL without credentials or query string', () => {
    expect(displayUrl('https://ops:s3cret@pulse.example.com:8443/api/health?token=abc')).toBe(
      'https://pulse.example.com:8443/api/health?…',
    );
    expect(displayUrl('http://localhost/health')).toBe('http://localhost/health');
  });

  it('reports status and latency, an error for non-2xx, no answer in time or no server', async () => {
    const ok = await checkEndpoint(`${base}/ok`);
    expect(ok).toMatchObject({
      severity: 'info',
      code: 'runtime.endpoint',
      message: expect.stringMatching(new RegExp(`^${base}/ok answered 204 in \\d+ ms$`)),
    });
    const bad = await checkEndpoint(`${base}/bad`);
    expect(bad).toMatchObject({
      severity: 'error',
      message: expect.stringMatching(/\/bad answered 502 Bad Gateway in \d+ ms$/),
    });
    const slow = await checkEndpoint(`${base}/slow`, 300);
    expect(slow).toMatchObject({
      severity: 'error',
      message: expect.stringMatching(/\/slow failed after \d+ ms: no answer within 300 ms$/),
    });
    // A port nobody listens on (fetch refuses well-known ones such as 1 outright).
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const port = (spare.address() as { port: number }).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const closed = await checkEndpoint(`http://127.0.0.1:${port}/health`);
    expect(closed).toMatchObject({
      severity: 'error',
      message: expect.stringMatching(/failed after \d+ ms: ECONNREFUSED$/),
    });
  });

  it('sends URL credentials as Basic authentication, never in the message', async () => {
    auth.length = 0;
    const f = await checkEndpoint(`${base.replace('http://', 'http://ops:p%40ss%20word@')}/ok?key=abc`);
    expect(auth).toEqual([`Basic ${Buffer.from('ops:p@ss word').toString('base64')}`]);
    expect(f.message).not.toMatch(/ops|p%40ss|p@ss|abc/);
  });

  it('says what was not checked', async () => {
    expect(await checkRuntime({ healthcheckUrls: [], composeFile: undefined })).toEqual({
      checked: false,
      findings: [
        {
          area: 'runtime',
          severity: 'info',
          code: 'runtime.not_configured',
          message: 'runtime not checked: HEALTHCHECK_URLS and COMPOSE_FILE are not set',
          hint: null,
        },
      ],
    });
    const only = await checkRuntime({ healthcheckUrls: [`${base}/ok`], composeFile: undefined });
    expect(only.findings.map((f) => f.code)).toEqual(['runtime.endpoint', 'runtime.not_configured']);
  });
});
