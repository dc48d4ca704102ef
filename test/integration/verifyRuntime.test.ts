// The runtime area: HEALTHCHECK_URLS endpoints and compose services. No Docker engine runs
// here, so a small fake `docker` first on PATH prints what Compose printed on real hosts, in
// both of the forms different Compose versions use.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

// `docker compose ps --format json` of Compose 2.0–2.20: one JSON array.
const PS_ARRAY = JSON.stringify([
  {
    ID: '1f0c',
    Name: 'pulse-api-1',
    Command: 'node server.js',
    Project: 'pulse',
    Service: 'api',
    State: 'running',
    Health: 'healthy',
    ExitCode: 0,
    Publishers: [{ URL: '0.0.0.0', TargetPort: 3000, PublishedPort: 3000, Protocol: 'tcp' }],
  },
  {
    ID: '2a9e',
    Name: 'pulse-web-1',
    Command: 'nginx -g daemon off;',
    Project: 'pulse',
    Service: 'web',
    State: 'running',
    Health: '',
    ExitCode: 0,
    Publishers: [],
  },
  {
    ID: '3b7d',
    Name: 'pulse-db-1',
    Command: 'postgres',
    Project: 'pulse',
    Service: 'db',
    State: 'running',
    Health: 'healthy',
    ExitCode: 0,
    Publishers: [],
  },
]);

// Compose 2.21+: one object per line.
const PS_LINES = [
  {
    Command: '"node server.js"',
    CreatedAt: '2026-11-20 10:00:00 +0000 UTC',
    ExitCode: 0,
    Health: 'healthy',
    ID: '1f0c',
    Image: 'pulse/api:2.3',
    Name: 'pulse-api-1',
    Project: 'pulse',
    Service: 'api',
    State: 'running',
    Status: 'Up 2 hours (healthy)',
  },
  {
    Command: '"nginx -g daemon off;"',
    CreatedAt: '2026-11-20 10:00:00 +0000 UTC',
    ExitCode: 0,
    Health: 'unhealthy',
    ID: '2a9e',
    Image: 'pulse/web:2.3',
    Name: 'pulse-web-1',
    Project: 'pulse',
    Service: 'web',
    State: 'running',
    Status: 'Up 2 hours (unhealthy)',
  },
  {
    Command: '"node worker.js"',
    CreatedAt: '2026-11-20 10:00:00 +0000 UTC',
    ExitCode: 137,
    Health: '',
    ID: '4c1a',
    Image: 'pulse/api:2.3',
    Name: 'pulse-worker-1',
    Project: 'pulse',
    Service: 'worker',
    State: 'exited',
    Status: 'Exited (137) 5 minutes ago',
  },
  {
    Command: '"postgres"',
    CreatedAt: '2026-11-20 10:00:00 +0000 UTC',
    ExitCode: 0,
    Health: 'healthy',
    ID: '3b7d',
    Image: 'postgres:15',
    Name: 'pulse-db-1',
    Project: 'pulse',
    Service: 'db',
    State: 'running',
    Status: 'Up 2 hours (healthy)',
  },
]
  .map((o) => JSON.stringify(o))
  .join('\n');

/**
 * A fake `docker` that answers `compose version`, `config --services` and `ps` from files beside it, logging its
 * arguments.
 */
function fakeDocker(services: string[], ps: string): { binDir: string; composeFile: string; calls: () => string[] } {
  const binDir = mkdtempSync(path.join(tmpdir(), 'upkit-fake-docker-'));
  writeFileSync(path.join(binDir, 'services.txt'), `${services.join('\n')}\n`);
  writeFileSync(path.join(binDir, 'ps.json'), `${ps}\n`);
  const script = [
    '#!/bin/sh',
    'dir=$(dirname "$0")',
    'echo "$*" >> "$dir/calls.log"',
    'case "$*" in',
    '  "compose version --short") echo 2.29.7 ;;',
    '  *" config --services") cat "$dir/services.txt" ;;',
    '  *" ps --all --format json") cat "$dir/ps.json" ;;',
    '  *) echo "fake docker: unexpected $*" >&2; exit 1 ;;',
    'esac',
  ].join('\n');
  writeFileSync(path.join(binDir, 'docker'), `${script}\n`);
  chmodSync(path.join(binDir, 'docker'), 0o755);
  const composeDir = mkdtempSync(path.join(tmpdir(), 'upkit-compose-'));
  const composeFile = path.join(composeDir, 'docker-compose.yml');
  writeFileSync(composeFile, 'services: {}\n');
  return { binDir, composeFile, calls: () => readFileSync(path.join(binDir, 'calls.log'), 'utf8').trim().split('\n') };
}

describe('verify runtime checks', () => {
  const db = useFreshDatabase();
  let server: Server;
  let base = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/health' ? 200 : 503;
      res.end(req.url === '/health' ? 'ok' : 'down');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function atLatest(): Promise<void> {
    await asRelease(db(), 'v2.3');
  }

  const runtimeFindings = (report: {
    findings: Array<{ code: string; severity: string; message: string; hint: string | null }>;
  }) => report.findings.filter((f) => f.code.startsWith('runtime.'));

  it('passes when every compose service runs (JSON array form) and every endpoint answers 2xx', async () => {
    await atLatest();
    const docker = fakeDocker(['api', 'web', 'db'], PS_ARRAY);
    const r = await runUpkit('verify/index.ts', ['--json'], {
      env: {
        DATABASE_URL: db().url,
        COMPOSE_FILE: docker.composeFile,
        HEALTHCHECK_URLS: `${base}/health`,
        PATH: `${docker.binDir}:${process.env.PATH}`,
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const found = runtimeFindings(r.json());
    expect(found.map((f) => [f.severity, f.message.replace(/\d+ ms/, 'N ms')])).toEqual([
      ['info', `${base}/health answered 200 in N ms`],
      ['info', 'service api is running and healthy'],
      ['info', 'service web is running'],
      ['info', 'service db is running and healthy'],
    ]);
    expect(docker.calls()).toContain(
      `compose --project-directory ${path.dirname(docker.composeFile)} -f ${docker.composeFile} ps --all --format json`,
    );
    expect(r.stderr).toMatch(/✔ runtime {2}4 checks passed/);
  });

  it(
    'names each service that is down or unhealthy (one ' + 'object per line) and each failing endpoint, and exits 4',
    async () => {
      await atLatest();
      const docker = fakeDocker(['api', 'web', 'worker', 'db', 'scheduler'], PS_LINES);
      const r = await runUpkit('verify/index.ts', ['--json'], {
        env: {
          DATABASE_URL: db().url,
          COMPOSE_FILE: docker.composeFile,
          HEALTHCHECK_URLS: `${base}/health,${base}/broken`,
          PATH: `${docker.binDir}:${process.env.PATH}`,
        },
      });
      expect(r.code, r.stderr).toBe(4);
      const errors = runtimeFindings(r.json()).filter((f) => f.severity === 'error');
      expect(errors.map((f) => [f.code, f.message.replace(/\d+ ms/, 'N ms')])).toEqual([
        ['runtime.endpoint', `${base}/broken answered 503 Service Unavailable in N ms`],
        ['runtime.service', 'service web is unhealthy (Up 2 hours (unhealthy))'],
        ['runtime.service', 'service worker exited with code 137 (Exited (137) 5 minutes ago)'],
        ['runtime.service', 'service scheduler has no container'],
      ]);
      expect(errors.find((f) => f.message.includes('worker'))!.hint).toBe(
        `see why: docker compose -f ${docker.composeFile} logs --tail 100 worker`,
      );
      expect(errors.find((f) => f.message.includes('scheduler'))!.hint).toBe(
        `run: docker compose -f ${docker.composeFile} up -d scheduler`,
      );
    },
  );

  it('says the runtime was not checked when nothing is configured', async () => {
    await atLatest();
    const r = await runUpkit('verify/index.ts', [], { env: { DATABASE_URL: db().url } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('runtime: not checked: HEALTHCHECK_URLS and COMPOSE_FILE are not set');
    expect(r.stderr).toMatch(/– runtime {2}HEALTHCHECK_URLS and COMPOSE_FILE are not set/);
  });
});
