// The end of an upgrade: containers rebuilt (against the recorded docker CLI stand-in, since
// no Docker engine runs on these machines) and health polled on real HTTP servers on loopback.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ROOT, runUpkit } from '../support/cli.ts';
import { backupArgs, useFreshDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

const DOUBLE = path.join(ROOT, 'test/fixtures/compose');

async function serve(status: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.statusCode = status;
    res.end(status === 200 ? 'ok' : 'database not ready');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/health`, server };
}

describe('upgrade: containers and health', () => {
  const db = useFreshDatabase();

  async function scenario(name: string, status: number) {
    await asRelease(db(), 'v2.2');
    const c = new pg.Client({ connectionString: db().url });
    await c.connect();
    c.on('notice', () => {});
    await c.end();
    const work = mkdtempSync(path.join(tmpdir(), 'upkit-compose-'));
    const composeFile = path.join(work, 'docker-compose.yml');
    writeFileSync(
      composeFile,
      'services:\n  api:\n    build: ./api\n  web:\n    build: ./web\n  db:\n    image: postgres:16\n',
    );
    const http = await serve(status);
    try {
      return await runUpkit('upgrade.ts', [...backupArgs(), '--yes', '--json'], {
        env: {
          DATABASE_URL: db().url,
          BACKUP_DIR: path.join(work, 'backups'),
          COMPOSE_FILE: composeFile,
          HEALTHCHECK_URLS: http.url,
          HEALTH_TIMEOUT: '2500',
          PATH: `${DOUBLE}:${process.env.PATH}`,
          COMPOSE_DOUBLE_LOG: path.join(work, 'calls.log'),
          COMPOSE_DOUBLE_STATE: work,
          COMPOSE_DOUBLE_SCENARIO: path.join(DOUBLE, name),
        },
      });
    } finally {
      http.server.close();
    }
  }

  it('rebuilds the containers and waits until the endpoints are healthy and the database migrated', async () => {
    const r = await scenario('healthy', 200);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/✔ containers/);
    expect(r.stderr).toMatch(/✔ health {2}1 endpoint healthy, database migrated/);
  });

  it('exits 6 when a service keeps restarting, saying the database upgrade itself is complete', async () => {
    const r = await scenario('restarting', 200);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(
      'the database upgrade itself is complete and verified; only the containers or their health failed',
    );
    expect(r.json().findings.some((f) => f.severity === 'error' && f.code.startsWith('compose.'))).toBe(true);
  });

  it('exits 6 with the last answer of an endpoint that never gets healthy', async () => {
    const r = await scenario('healthy', 500);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain('database not ready');
  });
});
