// No Docker engine runs on these machines: the container phase is tested against a recorded
// stand-in for the docker CLI (test/fixtures/compose/docker) put first on PATH. What is
// tested is the argument contract, the parsing and the decisions; the real engine is not.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContainersError, rebuildContainers } from '../../lib/compose.ts';
import { isUpkitError } from '../../lib/errors.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { ROOT } from '../support/cli.ts';

const DOUBLE = path.join(ROOT, 'test/fixtures/compose');
const SECRET = 'Compose-Secret-4711';
const API = 'a1f0c0de00000000000000000000000000000000000000000000000000000001';
const WEB = 'b2f0c0de00000000000000000000000000000000000000000000000000000002';
const DB = 'c3f0c0de00000000000000000000000000000000000000000000000000000003';

interface Setup {
  composeFile: string;
  project: string;
  calls(): string[];
  output(): string;
  log: Logger;
}

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

function setup(scenario: string | undefined, env: Record<string, string> = {}): Setup {
  const work = mkdtempSync(path.join(tmpdir(), 'upkit-compose-'));
  const composeFile = path.join(work, 'docker-compose.yml');
  writeFileSync(
    composeFile,
    'services:\n  api:\n    build: ./api\n  web:\n    build: ./web\n  db:\n    image: postgres:16\n',
  );
  // Compose reads its own .env; upkit must never copy a value from it into argv.
  writeFileSync(path.join(work, '.env'), `POSTGRES_PASSWORD=${SECRET}\n`);
  const logFile = path.join(work, 'calls.log');
  Object.assign(process.env, {
    PATH: `${DOUBLE}:${saved.PATH}`,
    COMPOSE_DOUBLE_LOG: logFile,
    COMPOSE_DOUBLE_STATE: work,
    POSTGRES_PASSWORD: SECRET,
    DATABASE_URL: `postgres://pulse:${SECRET}@db:5432/pulse`,
    ...(scenario ? { COMPOSE_DOUBLE_SCENARIO: path.join(DOUBLE, scenario) } : {}),
    ...env,
  });
  let out = '';
  const stream = {
    write: (s: string) => {
      out += s;
      return true;
    },
    isTTY: false,
  } as unknown as NodeJS.WriteStream;
  return {
    composeFile,
    project: `compose --project-directory ${work} -f ${composeFile}`,
    calls: () => readFileSync(logFile, 'utf8').trim().split('\n'),
    output: () => out,
    log: createLogger({ command: 'test', stream, interactive: false, logDir: false }),
  };
}

async function failure(p: Promise<unknown>): Promise<ContainersError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'rebuildContainers should have failed').toBeInstanceOf(ContainersError);
  return err as ContainersError;
}

function expectNoSecret(s: Setup): void {
  for (const c of s.calls()) expect(c).not.toContain(SECRET);
}

describe('rebuildContainers against the recorded docker CLI', () => {
  beforeEach(() => {
    delete process.env.COMPOSE_TIMEOUT;
  });

  it('builds, recreates with --wait, and checks every container runs the image just built', async () => {
    const s = setup('healthy');
    const result = await rebuildContainers({ composeFile: s.composeFile, envFile: undefined }, s.log);
    expect(result).toMatchObject({
      status: 'ok',
      compose: 'docker compose 2.29.7',
      waitedBy: 'wait',
      imagesChecked: true,
    });
    expect(result.services).toEqual([
      { service: 'api', name: 'pulse-api-1', state: 'running', health: 'healthy', imageId: `sha256:${'1'.repeat(64)}` },
      { service: 'web', name: 'pulse-web-1', state: 'running', health: 'healthy', imageId: `sha256:${'2'.repeat(64)}` },
      { service: 'db', name: 'pulse-db-1', state: 'running', health: 'healthy', imageId: `sha256:${'3'.repeat(64)}` },
    ]);
    expect(s.calls()).toEqual([
      'compose version --short',
      `${s.project} config --services`,
      `${s.project} config --images`,
      `${s.project} build --pull`,
      `${s.project} up -d --force-recreate --wait`,
      `${s.project} ps --all --format json`,
      `inspect --type container --format {{.Id}} {{.Config.Image}} {{.Image}} ${API} ${WEB} ${DB}`,
      'image inspect --format {{.Id}} pulse-api',
      'image inspect --format {{.Id}} pulse-web',
      'image inspect --format {{.Id}} postgres:16',
    ]);
    expectNoSecret(s);
    expect(s.output()).toMatch(/✔ check containers {2}3 containers running the images just built/);
  });

  it('names a service stuck in restarting, shows its last 50 log lines redacted, and exits 6', async () => {
    const s = setup('restarting');
    const err = await failure(rebuildContainers({ composeFile: s.composeFile, envFile: undefined }, s.log));
    expect(err.exitCode).toBe(6);
    expect(err.code).toBe('compose.unhealthy');
    expect(err.message).toBe('service api is restarting (last exit code 1)');
    expect(err.hint).toBe(`run: docker compose -f ${s.composeFile} logs api`);
    expect(err.details).toEqual([
      `api is restarting (last exit code 1): docker compose -f ${s.composeFile} logs api`,
      'up --wait exited with code 1: container pulse-api-1 is unhealthy',
    ]);
    expect(s.calls()).toContain(`${s.project} logs --no-color --tail 50 api`);
    const out = s.output();
    expect(out).toContain('service api: last 50 log lines');
    expect(out).toContain('api-1  | boot line 11');
    expect(out).not.toContain('boot line 10\n');
    expect(out).toContain('postgres://pulse:***@db:5432/pulse');
    expect(out).not.toContain('s3cr3t-Passw0rd');
    expect(err.failures[0]!.logs).toHaveLength(50);
    expect(err.failures[0]!.logs.join('\n')).not.toContain('s3cr3t-Passw0rd');
    expectNoSecret(s);
  });

  it('refuses a container running an old image (exit 6), naming both image IDs', async () => {
    const s = setup('stale-image');
    const err = await failure(rebuildContainers({ composeFile: s.composeFile, envFile: undefined }, s.log));
    expect(err.exitCode).toBe(6);
    expect(err.code).toBe('compose.stale_image');
    expect(err.message).toBe('service web runs an old image: 999999999999, while pulse-web is now 222222222222');
    expect(err.hint).toBe(
      `run: docker compose -f ${s.composeFile} up -d --force-recreate web, ` +
        `then check it with: docker compose -f ${s.composeFile} ps`,
    );
    expect(s.calls().some((c) => c.includes(' logs '))).toBe(false);
    expectNoSecret(s);
  });

  it(
    'without --wait (Compose 2.0, by its version) starts, ' + 'then polls ps (JSON array) until all are healthy',
    async () => {
      const s = setup('old-compose', { COMPOSE_DOUBLE_VERSION: '2.0.1', COMPOSE_DOUBLE_NO_WAIT: '1' });
      const result = await rebuildContainers({ composeFile: s.composeFile, envFile: undefined }, s.log, {
        pollIntervalMs: 20,
      });
      expect(result).toMatchObject({ status: 'ok', waitedBy: 'poll' });
      const calls = s.calls();
      expect(calls).toContain(`${s.project} up -d --force-recreate`);
      expect(calls.some((c) => c.includes('--wait'))).toBe(false);
      // created → starting → healthy twice in a row, then the final check.
      expect(calls.filter((c) => c.endsWith(' ps --all --format json'))).toHaveLength(5);
      expectNoSecret(s);
    },
  );

  it(
    'without --wait (a version it cannot read) tries --wait, ' + 'reads the refusal and falls back to polling',
    async () => {
      const s = setup('old-compose', { COMPOSE_DOUBLE_VERSION: 'dev', COMPOSE_DOUBLE_NO_WAIT: '1' });
      const result = await rebuildContainers({ composeFile: s.composeFile, envFile: undefined }, s.log, {
        pollIntervalMs: 20,
      });
      expect(result.waitedBy).toBe('poll');
      const ups = s.calls().filter((c) => c.includes(' up '));
      expect(ups).toEqual([`${s.project} up -d --force-recreate --wait`, `${s.project} up -d --force-recreate`]);
    },
  );

  it('when polling runs out of COMPOSE_TIMEOUT, names every service not ready and its state', async () => {
    const s = setup('stuck', { COMPOSE_DOUBLE_VERSION: '2.0.1', COMPOSE_TIMEOUT: '300' });
    const err = await failure(
      rebuildContainers({ composeFile: s.composeFile, envFile: undefined }, s.log, { pollIntervalMs: 20 }),
    );
    // It polled, and stopped when COMPOSE_TIMEOUT ran out: with 20 ms between two polls, no
    // more than 300 / 20 of them, the first and the one cut short by the deadline.
    const polls = s.calls().filter((c) => c.endsWith(' ps --all --format json')).length - 1;
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(polls).toBeLessThanOrEqual(300 / 20 + 2);
    expect(err.exitCode).toBe(6);
    expect(err.message).toBe('2 services are not ready: api is running, health check starting; web is created');
    expect(err.details.at(-1)).toBe('not ready within 300 ms (COMPOSE_TIMEOUT)');
    expect(s.calls()).toContain(`${s.project} logs --no-color --tail 50 web`);
  });

  it('stops at a failed build (exit 6) without touching the running containers', async () => {
    const s = setup('build-fails');
    const err = await rebuildContainers({ composeFile: s.composeFile, envFile: undefined }, s.log).catch(
      (e: unknown) => e,
    );
    expect(isUpkitError(err)).toBe(true);
    if (!isUpkitError(err)) return;
    expect(err.code).toBe('compose.build');
    expect(err.exitCode).toBe(6);
    expect(err.message).toBe(
      `docker compose -f ${s.composeFile} build --pull failed with exit code 17: ` +
        `failed to solve: process "/bin/sh -c npm ci" did not complete successfully: exit code: 1`,
    );
    expect(err.details).toHaveLength(3);
    expect(s.calls().some((c) => c.includes(' up '))).toBe(false);
  });

  it('refuses Compose v1 (no ps --format json) with exit 6 and the command to run by hand', async () => {
    const s = setup('healthy', { COMPOSE_DOUBLE_VERSION: '1.29.2' });
    const err = await rebuildContainers({ composeFile: s.composeFile, envFile: undefined }, s.log).catch(
      (e: unknown) => e,
    );
    expect(isUpkitError(err) && err.code).toBe('compose.unsupported');
    expect(isUpkitError(err) && err.exitCode).toBe(6);
    expect(s.calls()).toEqual(['compose version --short']);
  });

  it('does nothing without COMPOSE_FILE', async () => {
    const s = setup('healthy');
    const result = await rebuildContainers({ composeFile: undefined, envFile: undefined }, s.log);
    expect(result).toMatchObject({ status: 'skipped', detail: 'COMPOSE_FILE not set', services: [] });
  });
});
