import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { isUpkitError } from '../../lib/errors.ts';
import { databaseLine, endpointLine, healthFindings, HealthError, type HealthResult } from '../../lib/health/check.ts';
import { migrationState } from '../../lib/health/database.ts';
import { bodySnippet, describeAttempt, describeFetchError, displayUrl, endpoint } from '../../lib/health/probe.ts';
import { composeTimeoutMs, healthTimeoutMs, parseTimeout, readSetting } from '../../lib/health/settings.ts';
import { redact } from '../../lib/redact.ts';

const DRIZZLE = path.resolve(import.meta.dirname, '../../drizzle');

describe('endpoints as shown and sent', () => {
  it('shows no credentials and hides the query string', () => {
    expect(displayUrl('https://admin:pw@app.example.com:8443/health?token=abc')).toBe(
      'https://app.example.com:8443/health?…',
    );
    expect(displayUrl('http://127.0.0.1:3000/api/health')).toBe('http://127.0.0.1:3000/api/health');
  });

  it('sends credentials as Basic authentication and registers the password as a secret', () => {
    const ep = endpoint('http://ops:Health%23Pass-99@127.0.0.1:3000/health');
    expect(ep.url.toString()).toBe('http://127.0.0.1:3000/health');
    expect(ep.headers.authorization).toBe(`Basic ${Buffer.from('ops:Health#Pass-99').toString('base64')}`);
    expect(redact('echo Health#Pass-99')).toBe('echo ***');
  });
});

describe('answers as read by a person', () => {
  it('keeps the first 200 characters of the body, on one line, redacted', () => {
    const body = `error:\n  DATABASE_URL=postgres://pulse:Pg-Pass-123@db/pulse ${'x'.repeat(400)}`;
    const s = bodySnippet(body);
    expect(s).toHaveLength(200);
    expect(s.startsWith('error: DATABASE_URL=postgres://pulse:***@db/pulse xxx')).toBe(true);
  });

  it('describes an answer, an empty body and a failure', () => {
    expect(
      describeAttempt({ status: 503, statusText: 'Service Unavailable', body: 'starting', error: undefined, ms: 3 }),
    ).toBe('503 Service Unavailable "starting"');
    expect(describeAttempt({ status: 500, statusText: '', body: '', error: undefined, ms: 3 })).toBe(
      '500 (empty body)',
    );
    expect(
      describeAttempt({
        status: undefined,
        statusText: '',
        body: '',
        error: 'connection refused (ECONNREFUSED)',
        ms: 3,
      }),
    ).toBe('connection refused (ECONNREFUSED)');
    expect(describeAttempt(null)).toBe('not tried');
  });

  it('names network errors by what they mean', () => {
    expect(
      describeFetchError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), 5000),
    ).toBe('connection refused (ECONNREFUSED)');
    expect(describeFetchError(Object.assign(new Error('x'), { name: 'TimeoutError' }), 5000)).toBe(
      'no answer within 5000 ms',
    );
    expect(
      describeFetchError(
        Object.assign(new TypeError('fetch failed'), { cause: { code: 'EWHATEVER', message: 'odd' } }),
        5000,
      ),
    ).toBe('odd (EWHATEVER)');
  });

  it('writes one line per endpoint with its state', () => {
    const base = { url: 'http://h/health', attempts: 4, healthyAfterMs: null };
    expect(
      endpointLine({
        ...base,
        started: true,
        healthy: true,
        healthyAfterMs: 1800,
        last: { status: 200, statusText: 'OK', body: 'ok', error: undefined, ms: 2 },
      }),
    ).toBe('http://h/health: started, healthy: 200 after 1.8 s (4 attempts)');
    expect(
      endpointLine({
        ...base,
        started: true,
        healthy: false,
        last: { status: 500, statusText: 'Internal Server Error', body: 'boom', error: undefined, ms: 2 },
      }),
    ).toBe('http://h/health: started, not healthy: last answer 500 Internal Server Error "boom" (4 attempts)');
    expect(
      endpointLine({
        ...base,
        started: false,
        healthy: false,
        attempts: 1,
        last: { status: undefined, statusText: '', body: '', error: 'connection refused (ECONNREFUSED)', ms: 2 },
      }),
    ).toBe('http://h/health: not started: connection refused (ECONNREFUSED) (1 attempt)');
  });
});

describe('migrationState', () => {
  const migrations = readMigrations(DRIZZLE);
  const row = (i: number) => ({ id: i + 1, hash: migrations[i]!.hash, createdAt: migrations[i]!.when });
  const detection = (release: string | null) => ({ release, evidence: [], ahead: [] });

  it('is migrated at the expected release with every entry in the ledger', () => {
    const s = migrationState(
      detection('v2.3'),
      migrations,
      migrations.map((_, i) => row(i)),
      'v2.3',
    );
    expect(s).toEqual({
      migrated: true,
      release: 'v2.3',
      expected: 'v2.3',
      pending: [],
      detail: 'at v2.3, nothing pending',
    });
  });

  it('names the release and what is pending for an old install without a ledger', () => {
    const s = migrationState(detection('v1.2'), migrations, null, 'v2.3');
    expect(s.migrated).toBe(false);
    expect(s.detail).toBe(
      'at v1.2, expected v2.3; drizzle entries pending: 0000_init, ' +
        '0001_api_keys, 0002_audit_logs, 0003_integration_status_enum',
    );
  });

  it('names an edited entry and rows the files do not know', () => {
    const ledger = [
      row(0),
      row(1),
      row(2),
      { id: 4, hash: 'edited', createdAt: migrations[3]!.when },
      { id: 5, hash: 'future', createdAt: migrations.at(-1)!.when + 1 },
      { id: 6, hash: 'other app', createdAt: 1 },
    ];
    const s = migrationState(detection('v2.3'), migrations, ledger, 'v2.3');
    expect(s.detail).toBe(
      'drizzle entries edited after they were applied: 0003_integration_status_enum; ' +
        '1 drizzle ledger row these files do not know (the database is newer than this upkit)',
    );
  });

  it("takes a row created before the journal's last entry as another application's, not as a problem", () => {
    const ledger = [...migrations.map((_, i) => row(i)), { id: 9, hash: 'other app', createdAt: 1 }];
    expect(migrationState(detection('v2.3'), migrations, ledger, 'v2.3')).toMatchObject({ migrated: true });
  });

  it('calls an empty database empty', () => {
    expect(migrationState(detection(null), migrations, null, 'v2.3').detail).toMatch(
      /^at no release \(empty\), expected v2\.3; /,
    );
  });
});

describe('HEALTH_TIMEOUT and COMPOSE_TIMEOUT', () => {
  it('take the environment first, then the .env file configuration loading read', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'upkit-settings-'));
    const envFile = path.join(dir, '.env');
    writeFileSync(envFile, 'HEALTH_TIMEOUT=4000\nCOMPOSE_TIMEOUT=9000\n');
    expect(healthTimeoutMs({ envFile }, {})).toBe(4000);
    expect(healthTimeoutMs({ envFile }, { HEALTH_TIMEOUT: '1500' })).toBe(1500);
    expect(composeTimeoutMs({ envFile }, {})).toBe(9000);
    expect(readSetting({ envFile }, 'NOPE', {})).toBeUndefined();
  });

  it('default to 120000 and 300000 ms', () => {
    expect(healthTimeoutMs({ envFile: undefined }, {})).toBe(120_000);
    expect(composeTimeoutMs({ envFile: undefined }, {})).toBe(300_000);
  });

  it('refuse anything but a whole number of milliseconds, naming the key (exit 2)', () => {
    for (const bad of ['0', '-5', '2s', '1.5']) {
      let err: unknown;
      try {
        parseTimeout('HEALTH_TIMEOUT', bad, 1);
      } catch (e) {
        err = e;
      }
      expect(isUpkitError(err) && err.exitCode).toBe(2);
      expect(isUpkitError(err) && err.message).toBe(
        `HEALTH_TIMEOUT: must be a whole number of milliseconds above 0, got "${bad}"`,
      );
    }
  });
});

describe('HealthError', () => {
  const result = (over: Partial<HealthResult>): HealthResult => ({
    ok: false,
    configured: true,
    endpoints: [],
    database: null,
    timeoutMs: 3000,
    durationMs: 3010,
    ...over,
  });
  const down = {
    url: 'http://h/health',
    started: false,
    healthy: false,
    attempts: 6,
    healthyAfterMs: null,
    last: { status: undefined, statusText: '', body: '', error: 'connection refused (ECONNREFUSED)', ms: 1 },
  };
  const notMigrated = {
    migrated: false,
    release: 'v1.2',
    expected: 'v2.3',
    pending: ['0000_init'],
    detail: 'at v1.2, expected v2.3; drizzle entries pending: 0000_init',
    attempts: 5,
  };

  it('is exit 6 with one line per failing endpoint and the database', () => {
    const err = new HealthError(result({ endpoints: [down], database: notMigrated }), '/srv/pulse/docker-compose.yml');
    expect(err.exitCode).toBe(6);
    expect(err.message).toBe('health checks failed within 3.0 s: http://h/health not started, database not migrated');
    expect(err.details).toEqual([
      'http://h/health: not started: connection refused (ECONNREFUSED) (6 attempts)',
      databaseLine(notMigrated),
    ]);
    expect(err.hint).toBe(
      'see why: docker compose -f /srv/pulse/docker-compose.yml logs --tail 100, then run: npx zx scripts/health.ts',
    );
  });

  it('points at status and upgrade when only the database is behind', () => {
    const err = new HealthError(result({ database: notMigrated }), undefined);
    expect(err.code).toBe('health.not_migrated');
    expect(err.hint).toBe('see what is pending: npx zx scripts/status.ts, then run: npx zx upgrade.ts');
  });

  it('gives findings for the report, saying when endpoints are not configured', () => {
    const f = healthFindings(
      result({ configured: false, database: { ...notMigrated, migrated: true, detail: 'at v2.3, nothing pending' } }),
    );
    expect(f.map((x) => [x.severity, x.code])).toEqual([
      ['info', 'health.not_configured'],
      ['info', 'health.migrated'],
    ]);
  });
});
