import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseComposeVersion, rejectsWaitFlag, supportsWait } from '../../lib/compose/cli.ts';
import { containersError, sentence } from '../../lib/compose/failure.ts';
import { normalizeRef, parseContainerInspect, staleImages } from '../../lib/compose/images.ts';
import { hopeless, judge, parsePs, PsParseError, readiness, type ComposeContainer } from '../../lib/compose/ps.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/compose');
const fixture = (f: string) => readFileSync(path.join(FIXTURES, f), 'utf8');

const c = (over: Partial<ComposeContainer>): ComposeContainer => ({
  service: 'api',
  name: 'pulse-api-1',
  id: 'a1',
  state: 'running',
  health: '',
  image: 'pulse-api',
  exitCode: 0,
  status: '',
  ...over,
});

describe('parsePs', () => {
  it('reads one object per line (Compose 2.21 and later)', () => {
    const ps = parsePs(fixture('healthy/ps.json'));
    expect(ps.map((x) => [x.service, x.name, x.state, x.health, x.image, x.exitCode])).toEqual([
      ['api', 'pulse-api-1', 'running', 'healthy', 'pulse-api', 0],
      ['web', 'pulse-web-1', 'running', 'healthy', 'pulse-web', 0],
      ['db', 'pulse-db-1', 'running', 'healthy', 'postgres:16', 0],
    ]);
    expect(ps[0]!.id).toMatch(/^a1f0c0de/);
  });

  it('reads a JSON array, pretty-printed, without Image (Compose 2.0–2.20)', () => {
    const ps = parsePs(fixture('old-compose/ps.1.json'));
    expect(ps.map((x) => [x.service, x.state, x.health, x.image])).toEqual([
      ['api', 'running', 'starting', ''],
      ['web', 'created', '', ''],
      ['db', 'running', 'healthy', ''],
    ]);
  });

  it('reads a one-line array, lower-cases states, and takes ExitCode as a string too', () => {
    const ps = parsePs('[{"Service":"api","Name":"p-api-1","State":"Exited","Health":"","ExitCode":"137"}]');
    expect(ps[0]).toMatchObject({ service: 'api', state: 'exited', exitCode: 137 });
  });

  it('treats empty output and an empty array as no containers', () => {
    expect(parsePs('')).toEqual([]);
    expect(parsePs('  \n')).toEqual([]);
    expect(parsePs('[]')).toEqual([]);
  });

  it('skips lines that are not JSON around the objects', () => {
    const ps = parsePs(`WARN[0000] the attribute \`version\` is obsolete\n{"Service":"api","State":"running"}\n`);
    expect(ps).toHaveLength(1);
  });

  it('falls back to the service name from Names, and the name from the service', () => {
    expect(parsePs('{"Names":["pulse-x-1"],"State":"running"}')[0]).toMatchObject({
      name: 'pulse-x-1',
      service: 'pulse-x-1',
    });
  });

  it('refuses output with no JSON at all rather than reading it as "no containers"', () => {
    expect(() => parsePs('NAME   IMAGE   SERVICE\npulse-api-1   pulse-api   api')).toThrow(PsParseError);
  });
});

describe('readiness and judge', () => {
  it.each([
    [{ state: 'running', health: '' }, 'ready', ''],
    [{ state: 'running', health: 'healthy' }, 'ready', ''],
    [{ state: 'running', health: 'starting' }, 'waiting', 'running, health check starting'],
    [{ state: 'running', health: 'unhealthy' }, 'failed', 'running but unhealthy'],
    [{ state: 'restarting', exitCode: 1 }, 'waiting', 'restarting (last exit code 1)'],
    [{ state: 'restarting', exitCode: 0 }, 'waiting', 'restarting'],
    [{ state: 'created' }, 'waiting', 'created'],
    [{ state: 'exited', exitCode: 1 }, 'failed', 'exited with code 1'],
    [{ state: 'exited', exitCode: 0 }, 'failed', 'exited with code 0'],
    [{ state: 'dead' }, 'failed', 'dead'],
    [{ state: 'paused' }, 'failed', 'paused'],
  ] as const)('%o is %s', (over, kind, why) => {
    const r = readiness(c(over));
    expect(r.kind).toBe(kind);
    if (r.kind !== 'ready') expect(r.why).toBe(why);
  });

  it('turns waiting into failure at the end, and names a service without a container', () => {
    const containers = [c({ state: 'created', service: 'web', name: 'pulse-web-1' })];
    expect(judge(['api', 'web'], containers, false).map((v) => [v.service, v.ready, v.why])).toEqual([
      ['api', false, 'not created yet'],
      ['web', false, 'created'],
    ]);
    expect(judge(['api', 'web'], containers, true).map((v) => v.why)).toEqual(['has no container', 'created']);
  });

  it('knows when waiting longer cannot help', () => {
    const v = judge(['api', 'web'], [c({}), c({ service: 'web', state: 'exited', exitCode: 2 })], false);
    expect(hopeless(v).map((x) => x.service)).toEqual(['web']);
  });
});

describe('compose versions', () => {
  it.each([
    ['2.29.7', [2, 29, 7], true],
    ['v2.1.1', [2, 1, 1], true],
    ['2.0.1', [2, 0, 1], false],
    ['2.24.6-desktop.1', [2, 24, 6], true],
    ['1.29.2', [1, 29, 2], false],
    ['dev', undefined, undefined],
  ] as const)('%s', (raw, parsed, wait) => {
    expect(parseComposeVersion(raw)).toEqual(parsed);
    expect(supportsWait({ version: raw })).toBe(wait);
  });

  it('recognises a CLI refusing --wait', () => {
    expect(rejectsWaitFlag('unknown flag: --wait')).toBe(true);
    expect(rejectsWaitFlag('Error: unknown flag: --wait\nUsage: docker compose up')).toBe(true);
    expect(rejectsWaitFlag('no such option: --wait')).toBe(true);
    expect(rejectsWaitFlag('container pulse-api-1 is unhealthy')).toBe(false);
  });
});

describe('the image rule', () => {
  const ready = judge(
    ['api', 'db'],
    [c({ id: 'aaaa' }), c({ service: 'db', name: 'pulse-db-1', id: 'dddd', image: 'postgres:16' })],
    true,
  );

  it('reads docker inspect lines', () => {
    expect(parseContainerInspect('aaaa pulse-api sha256:11\n\ndddd postgres:16 sha256:33\n')).toEqual([
      { id: 'aaaa', ref: 'pulse-api', imageId: 'sha256:11' },
      { id: 'dddd', ref: 'postgres:16', imageId: 'sha256:33' },
    ]);
  });

  it('normalises references as Docker does', () => {
    expect(normalizeRef('postgres')).toBe('library/postgres:latest');
    expect(normalizeRef('docker.io/library/postgres:latest')).toBe('library/postgres:latest');
    expect(normalizeRef('localhost:5000/pulse/api')).toBe('localhost:5000/pulse/api:latest');
    expect(normalizeRef('ghcr.io/acme/api@sha256:ab')).toBe('ghcr.io/acme/api@sha256:ab');
  });

  it('passes containers whose image is what their reference names now', () => {
    const inspected = [
      { id: 'aaaa', ref: 'pulse-api', imageId: 'sha256:1111' },
      { id: 'dddd', ref: 'docker.io/library/postgres:16', imageId: 'sha256:3333' },
    ];
    const ids = new Map([
      ['pulse-api', 'sha256:1111'],
      ['docker.io/library/postgres:16', 'sha256:3333'],
    ]);
    expect(staleImages(ready, inspected, ids, ['pulse-api', 'postgres:16'])).toEqual([]);
  });

  it(
    'names an old image, a vanished reference, ' + 'a reference the file no longer names, an uninspectable container',
    () => {
      const ids = new Map<string, string | null>([
        ['pulse-api', 'sha256:2222aaaabbbbcccc'],
        ['postgres:15', 'sha256:3333'],
      ]);
      expect(
        staleImages(
          ready,
          [
            { id: 'aaaa', ref: 'pulse-api', imageId: 'sha256:1111aaaabbbbcccc' },
            { id: 'dddd', ref: 'postgres:15', imageId: 'sha256:3333' },
          ],
          ids,
          ['pulse-api', 'postgres:16'],
        ).map((s) => s.why),
      ).toEqual([
        'runs an old image: 1111aaaabbbb, while pulse-api is now 2222aaaabbbb',
        'runs postgres:15, an image the compose file does not name (it names pulse-api, postgres:16)',
      ]);
      expect(
        staleImages(
          ready.slice(0, 1),
          [{ id: 'aaaa', ref: 'pulse-api', imageId: 'sha256:1111' }],
          new Map([['pulse-api', null]]),
          [],
        ).map((s) => s.why),
      ).toEqual(['runs image 1111, but pulse-api names no image now']);
      expect(staleImages(ready.slice(0, 1), [], new Map(), []).map((s) => s.why)).toEqual([
        'its container could not be inspected',
      ]);
    },
  );
});

describe('containersError', () => {
  const cli = { command: 'docker', baseArgs: ['compose'], version: '2.29.7' };

  it('phrases states as sentences', () => {
    expect(sentence('api', 'restarting')).toBe('api is restarting');
    expect(sentence('api', 'exited with code 1')).toBe('api exited with code 1');
    expect(sentence('api', 'has no container')).toBe('api has no container');
    expect(sentence('api', 'running but unhealthy')).toBe('api is running but unhealthy');
  });

  it('names several services in one line, each with its logs command below', () => {
    const err = containersError(
      cli,
      '/srv/pulse/compose.yml',
      [
        { service: 'api', label: 'api', why: 'exited with code 1', logs: [] },
        { service: 'web', label: 'web', why: 'running but unhealthy', logs: [] },
      ],
      undefined,
    );
    expect(err.exitCode).toBe(6);
    expect(err.message).toBe('2 services are not ready: api exited with code 1; web is running but unhealthy');
    expect(err.details).toEqual([
      'api exited with code 1: docker compose -f /srv/pulse/compose.yml logs api',
      'web is running but unhealthy: docker compose -f /srv/pulse/compose.yml logs web',
    ]);
    expect(err.hint).toBe('run: docker compose -f /srv/pulse/compose.yml logs api');
  });

  it('uses the docker-compose spelling when that is the CLI found', () => {
    const err = containersError(
      { command: 'docker-compose', baseArgs: [], version: '2.20.0' },
      '/c.yml',
      [{ service: 'api', label: 'api', why: 'restarting', logs: [] }],
      undefined,
    );
    expect(err.hint).toBe('run: docker-compose -f /c.yml logs api');
  });

  it('reports a failed up with no failing service as such', () => {
    const err = containersError(cli, '/c.yml', [], 'up --wait exited with code 1: network pulse_default not found');
    expect(err.code).toBe('compose.up');
    expect(err.message).toBe('up --wait exited with code 1: network pulse_default not found');
  });
});
