import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, DEFAULTS } from '../../lib/config.ts';
import { UpkitError } from '../../lib/errors.ts';
import { parseSessionOptions, searchPathSchemas, startupOptions } from '../../lib/pgOptions.ts';
import { clearSecrets, redact } from '../../lib/redact.ts';

const PASSWORD = 'p@ss:w/rd %#x';

function dir(): string {
  return mkdtempSync(path.join(tmpdir(), 'upkit-config-'));
}

/** Loads with only the given environment (no process env, no stray .env). */
function load(env: Record<string, string>, extra: Parameters<typeof loadConfig>[0] = {}) {
  return loadConfig({ env, cwd: dir(), ...extra });
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UpkitError);
    expect((err as UpkitError).exitCode).toBe(2);
    // One problem is the message itself; several are listed under a count.
    const e = err as UpkitError;
    return e.details.length ? [...e.details] : [e.message];
  }
  throw new Error('expected a configuration error');
}

afterEach(() => clearSecrets());

describe('loadConfig', () => {
  it('reads DATABASE_URL with a percent-encoded password holding @ : / % # and a space', () => {
    const c = load({
      DATABASE_URL: `postgres://pulse:${encodeURIComponent(PASSWORD)}@db.internal:6543/config_management`,
    });
    expect(c.db).toEqual({
      host: 'db.internal',
      port: 6543,
      user: 'pulse',
      password: PASSWORD,
      database: 'config_management',
      source: 'DATABASE_URL',
      schema: 'public',
    });
    expect(c.migrationDb).toBe(c.db);
    expect(redact(`failed with ${PASSWORD} and ${encodeURIComponent(PASSWORD)}`)).toBe('failed with *** and ***');
  });

  it('reads DB_* parts with the password verbatim and defaults the port', () => {
    const c = load({ DB_HOST: 'localhost', DB_USER: 'pulse', DB_PASSWORD: PASSWORD, DB_NAME: 'config_management' });
    expect(c.db).toMatchObject({ host: 'localhost', port: DEFAULTS.port, password: PASSWORD, source: 'DB_*' });
  });

  it('lets DIRECT_URL win for migrations', () => {
    const c = load({
      DATABASE_URL: 'postgres://app:x1234@pooler:6432/pulse',
      DIRECT_URL: 'postgres://owner:y1234@primary:5432/pulse',
    });
    expect(c.db.host).toBe('pooler');
    expect(c.migrationDb).toMatchObject({ host: 'primary', user: 'owner', source: 'DIRECT_URL' });
  });

  it('reports every problem at once, each naming its key, never a value', () => {
    const found = problems(() =>
      load({
        DB_HOST: 'h',
        DB_PORT: '99999',
        DB_PASSWORD: 'hunter22',
        DATABASE_SSL: 'maybe',
        LOCK_TIMEOUT: '-5',
        BACKUP_KEEP: 'x',
        HEALTHCHECK_URLS: 'ftp://x',
        COMPOSE_FILE: '/nope/compose.yml',
      }),
    );
    expect(found).toEqual([
      'DB_USER: is not set (set DATABASE_URL, or DB_HOST, DB_USER and DB_NAME)',
      'DB_NAME: is not set (set DATABASE_URL, or DB_HOST, DB_USER and DB_NAME)',
      'DB_PORT: port must be a number from 1 to 65535, got "99999"',
      'DATABASE_SSL: must be one of false, true, require, verify-full, got "maybe"',
      'LOCK_TIMEOUT: must be a whole number of milliseconds above 0, got "-5"',
      'BACKUP_KEEP: must be a whole number above 0, got "x"',
      'COMPOSE_FILE: file /nope/compose.yml does not exist',
      'HEALTHCHECK_URLS: "ftp://x" is not an http(s) URL',
    ]);
    expect(found.join('\n')).not.toContain('hunter22');
  });

  it('validates the container and health timeouts with the other keys', () => {
    expect(
      problems(() => load({ DATABASE_URL: 'postgres://u:pw12@h/db', HEALTH_TIMEOUT: 'soon', COMPOSE_TIMEOUT: '0' })),
    ).toEqual([
      'HEALTH_TIMEOUT: must be a whole number of milliseconds above 0, got "soon"',
      'COMPOSE_TIMEOUT: must be a whole number of milliseconds above 0, got "0"',
    ]);
    expect(load({ DATABASE_URL: 'postgres://u:pw12@h/db', HEALTH_TIMEOUT: '3000' })).toMatchObject({
      healthTimeoutMs: 3000,
      composeTimeoutMs: 300_000,
    });
  });

  it('asks for DATABASE_URL or the DB_* keys when nothing is set, saying there is no .env here', () => {
    const d = dir();
    expect(problems(() => loadConfig({ env: {}, cwd: d }))).toEqual([
      `DATABASE_URL: is not set, and neither are DB_HOST, ` +
        `DB_USER and DB_NAME (in the environment; there is no .env in ${d})`,
    ]);
    expect(problems(() => load({ DB_HOST: 'h', DB_PASSWORD: 'pw' }))).toEqual([
      'DB_USER: is not set (set DATABASE_URL, or DB_HOST, DB_USER and DB_NAME)',
      'DB_NAME: is not set (set DATABASE_URL, or DB_HOST, DB_USER and DB_NAME)',
    ]);
  });

  it.each([
    ['mysql://u:p@h/db', 'DATABASE_URL: is not a PostgreSQL connection URL'],
    ['postgres://u@h:5432', 'DATABASE_URL: names no database'],
    ['postgres://h/db', 'DATABASE_URL: names no user'],
    ['postgres://u:pw@h:99999/db', 'DATABASE_URL: has a port that is not a number from 1 to 65535'],
    ['postgres://u:pw@:5432/db', 'DATABASE_URL: names no host'],
  ])('names DATABASE_URL when it is malformed: %s', (url, expected) => {
    const found = problems(() => load({ DATABASE_URL: url }));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(expected);
    expect(found[0]).toContain('percent-encode @ : / % # and spaces');
  });

  it.each(['postgres://u:pa#ss@h/db', 'postgres://u:p/ss@h/db', 'postgres://u:p?ss@h:5432/db'])(
    'says which characters of a password must be encoded, without echoing it: %s',
    (url) => {
      const found = problems(() => load({ DATABASE_URL: url }));
      expect(found).toEqual([
        'DATABASE_URL: has a / ? or # in the user name or password that is not percent-encoded ' +
          '(write / as %2F, ? as %3F, # as %23), or set the password in DB_PASSWORD',
      ]);
    },
  );

  it('names DATABASE_URL when its port is out of range', () => {
    expect(problems(() => load({ DATABASE_URL: 'postgres://u:pw@h:0/db' }))).toEqual([
      'DATABASE_URL: port must be a number from 1 to 65535, got "0"',
    ]);
  });

  it('reads .env, lets the environment win, and reports lines dotenv would drop', () => {
    const d = dir();
    writeFileSync(
      path.join(d, '.env'),
      [
        '# Pulse',
        'DB_HOST=filehost',
        'DB_USER=pulse',
        'DB_NAME=pulse',
        'this line is broken',
        'DB_PASSWORD=abc#def',
        '',
      ].join('\n'),
    );
    const found = problems(() => loadConfig({ cwd: d, env: { DB_HOST: 'envhost' } }));
    expect(found).toEqual([
      '.env line 5: is not KEY=VALUE (it would be ignored)',
      "DB_PASSWORD (.env line 6): holds a '#' in an unquoted value, where it starts a comment; put the value in quotes",
    ]);
    writeFileSync(
      path.join(d, '.env'),
      [
        'DB_HOST=filehost',
        'DB_USER=pulse',
        'DB_NAME=pulse',
        `DB_PASSWORD="${PASSWORD}"`,
        'DB_PORT=5433 # comment',
      ].join('\n'),
    );
    const c = loadConfig({ cwd: d, env: { DB_HOST: 'envhost' } });
    expect(c.db).toMatchObject({ host: 'envhost', port: 5433, password: PASSWORD });
    expect(c.envFile).toBe(path.join(d, '.env'));
  });

  it('refuses a missing --dotenv file and an unclosed quote', () => {
    expect(problems(() => load({}, { envFile: 'missing.env' }))).toEqual([
      expect.stringMatching(/^--dotenv: .*missing\.env does not exist$/),
    ]);
    const d = dir();
    writeFileSync(path.join(d, 'x.env'), 'DATABASE_URL=postgres://u:p@h/db\nDB_PASSWORD="never closed\n');
    expect(problems(() => loadConfig({ cwd: d, env: {}, envFile: 'x.env' }))).toEqual([
      'x.env: a value opened with " is never closed',
    ]);
  });

  it('takes flag overrides over the environment and resolves directories', () => {
    const d = dir();
    const c = loadConfig({
      cwd: d,
      env: { DATABASE_URL: 'postgres://u:pw12@h/db', BACKUP_DIR: 'b', LOCK_TIMEOUT: '500' },
      overrides: { lockTimeoutMs: 900 },
    });
    expect(c.backupDir).toBe(path.join(d, 'b'));
    expect(c.lockTimeoutMs).toBe(900);
    expect(
      problems(() =>
        loadConfig({ cwd: d, env: { DATABASE_URL: 'postgres://u:pw12@h/db' }, overrides: { drizzleDir: 'nope' } }),
      )[0],
    ).toMatch(/^--drizzle-dir: directory .*nope does not exist$/);
  });

  it('maps sslmode in the URL when DATABASE_SSL is unset, and checks DATABASE_SSL_CA', () => {
    expect(load({ DATABASE_URL: 'postgres://u:pw12@h/db?sslmode=require' }).ssl).toBe('require');
    expect(load({ DATABASE_URL: 'postgres://u:pw12@h/db?sslmode=verify-full', DATABASE_SSL: 'false' }).ssl).toBe(
      'false',
    );
    expect(problems(() => load({ DATABASE_URL: 'postgres://u:pw12@h/db', DATABASE_SSL_CA: '/nope.pem' }))).toEqual([
      'DATABASE_SSL_CA: file /nope.pem does not exist',
      'DATABASE_SSL_CA: is only used with DATABASE_SSL=verify-full',
    ]);
  });
});

describe('DB_WAIT_TIMEOUT', () => {
  it('is validated with every other key, from the environment or .env', () => {
    const found = problems(() =>
      load({ DATABASE_URL: 'postgres://u:pw12@h/db', DB_WAIT_TIMEOUT: '1m', BACKUP_KEEP: 'x' }),
    );
    expect(found.some((p) => p.startsWith('DB_WAIT_TIMEOUT: must be a whole number') && p.endsWith('got "1m"'))).toBe(
      true,
    );
    expect(load({ DATABASE_URL: 'postgres://u:pw12@h/db' }).dbWaitTimeoutMs).toBe(60_000);
    const cwd = dir();
    writeFileSync(path.join(cwd, '.env'), 'DATABASE_URL=postgres://u:pw12@h/db\nDB_WAIT_TIMEOUT=2500\n');
    expect(loadConfig({ env: {}, cwd }).dbWaitTimeoutMs).toBe(2500);
  });
});

describe('the schema and the libpq options of a URL', () => {
  const URL_BASE = 'postgres://u:pw12@h/db';

  it('honours search_path in options in every libpq spelling, and pins public by default', () => {
    expect(load({ DATABASE_URL: URL_BASE }).db.schema).toBe('public');
    for (const options of [
      '-c search_path=public',
      '-csearch_path=public',
      '--search_path=public',
      '--search-path=PUBLIC',
      '-c search_path="public"',
      '-c\\ search_path=public',
    ]) {
      const c = load({ DATABASE_URL: `${URL_BASE}?options=${encodeURIComponent(options)}` });
      expect(c.db.schema, options).toBe('public');
      expect(c.db.settings, options).toBeUndefined();
    }
    const c = load({
      DATABASE_URL:
        `${URL_BASE}` + `?options=-c%20search_path%3Dpublic%20-c%20work_mem%3D64MB%20-c%20statement_timeout%3D5s`,
    });
    expect(c.db.settings).toEqual({ work_mem: '64MB' });
    expect(c.warnings.map((w) => w.message)).toEqual([
      'DATABASE_URL: options set statement_timeout, which upkit leaves out of its own sessions',
    ]);
  });

  it('refuses another schema, wherever it is named, with exit 2 naming the key', () => {
    for (const query of [
      'options=-c%20search_path%3Dapp',
      'options=-csearch_path%3Dapp',
      'options=--search_path%3Dapp',
      'options=--search-path%3Dapp',
      'schema=app',
      'search_path=app',
    ]) {
      expect(
        problems(() => load({ DATABASE_URL: `${URL_BASE}?${query}` })),
        query,
      ).toEqual([
        'DATABASE_URL: sets search_path to schema app, but upkit installs and upgrades Pulse in schema public only',
      ]);
    }
    expect(problems(() => load({ DATABASE_URL: URL_BASE, DB_SCHEMA: 'app' }))).toEqual([
      'DB_SCHEMA: names schema app, but upkit installs and upgrades Pulse in schema public only',
    ]);
    expect(problems(() => load({ DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'd', DB_SCHEMA: 'app' }))).toEqual([
      'DB_SCHEMA: names schema app, but upkit installs and upgrades Pulse in schema public only',
    ]);
    // Another app's drizzle folder: its search_path is its own, and DB_SCHEMA names it (nothing is said of Pulse).
    const app = mkdtempSync(path.join(tmpdir(), 'upkit-app-'));
    expect(load({ DATABASE_URL: URL_BASE, DB_SCHEMA: 'app', UPKIT_DRIZZLE_DIR: app }).db).toMatchObject({
      app: true,
      searchPath: '"app"',
    });
    expect(
      load({ DATABASE_URL: URL_BASE, DB_SCHEMA: 'app', UPKIT_SEARCH_PATH: 'other, public', UPKIT_DRIZZLE_DIR: app }).db,
    ).toMatchObject({ app: true, searchPath: 'other, public' });
    expect(load({ DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'd', DB_SCHEMA: 'public' }).db.schema).toBe('public');
    expect(
      problems(() => load({ DATABASE_URL: `${URL_BASE}?options=-c%20search_path%3D%22%24user%22%2Cpublic` })),
    ).toEqual(['DATABASE_URL: sets search_path to $user, public; upkit works in one schema, named alone']);
    expect(problems(() => load({ DATABASE_URL: `${URL_BASE}?options=-B%20100` }))).toEqual([
      'DATABASE_URL: has options that are not -c name=value settings (-B 100); upkit passes on only settings',
    ]);
    expect(problems(() => load({ DATABASE_URL: `${URL_BASE}?hostaddr=10.0.0.9` }))[0]).toMatch(
      /^DATABASE_URL: sets hostaddr, which upkit does not use/,
    );
  });

  it('accepts a Unix-socket directory as the host: in the host parameter, percent-encoded, or in DB_HOST', () => {
    expect(load({ DATABASE_URL: 'postgres://u:pw12@/db?host=/var/run/postgresql' }).db).toMatchObject({
      host: '/var/run/postgresql',
      port: 5432,
      database: 'db',
    });
    expect(load({ DATABASE_URL: 'postgres:///db?host=%2Fvar%2Frun%2Fpostgresql&user=u&port=5433' }).db).toMatchObject({
      host: '/var/run/postgresql',
      port: 5433,
      user: 'u',
    });
    expect(load({ DATABASE_URL: 'postgres://u:pw12@%2Ftmp%2Fpg:5434/db' }).db).toMatchObject({
      host: '/tmp/pg',
      port: 5434,
    });
    expect(load({ DB_HOST: '/var/run/postgresql', DB_USER: 'u', DB_NAME: 'd' }).db.host).toBe('/var/run/postgresql');
    expect(problems(() => load({ DATABASE_URL: 'postgres://u:pw12@/db' }))[0]).toMatch(/^DATABASE_URL: names no host/);
  });
});

describe('.env values', () => {
  it('reads \\n in double quotes as a line break, as dotenv does, and warns for a connection key', () => {
    const cwd = dir();
    writeFileSync(
      path.join(cwd, '.env'),
      'DATABASE_URL=postgres://u:pw12@h/db\nDB_PASSWORD="a\\nb"\nOTHER="x\\ny"\nDB_USER=\'c\\nd\'\n',
    );
    const c = loadConfig({ env: {}, cwd });
    // (DB_PASSWORD and DB_USER also disagree with DATABASE_URL: config.url_and_parts, tested on its own.)
    expect(c.warnings.filter((w) => w.code === 'config.env-escape')).toEqual([
      {
        code: 'config.env-escape',
        message:
          'DB_PASSWORD (.env line 2): \\n or \\r inside double quotes is read as a line break (as dotenv reads it)',
        hint: `to keep the backslash, put the value in single quotes in ${path.join(cwd, '.env')} (line 2)`,
      },
    ]);
  });

  it('warns once per key set twice, naming every line and the one that wins', () => {
    const cwd = dir();
    writeFileSync(
      path.join(cwd, '.env'),
      'DATABASE_URL=postgres://u:pw12@h/db\nLOCK_TIMEOUT=100\nBACKUP_KEEP=2\nLOCK_TIMEOUT=200\nLOCK_TIMEOUT=300\n',
    );
    const c = loadConfig({ env: {}, cwd });
    expect(c.lockTimeoutMs).toBe(300);
    expect(c.warnings.map((w) => w.message)).toEqual([
      'LOCK_TIMEOUT is set 3 times in .env (lines 2, 4 and 5); line 5 wins',
    ]);
  });
});

describe('session options as libpq and the server read them', () => {
  it('splits on unescaped white space, a backslash taking the next character', () => {
    expect(parseSessionOptions('-c application_name=a\\ b  --work-mem=64MB -cfoo.bar=1')).toEqual({
      settings: new Map([
        ['application_name', 'a b'],
        ['work_mem', '64MB'],
        ['foo.bar', '1'],
      ]),
      unsupported: [],
    });
    expect(parseSessionOptions('-c -B 100').unsupported).toEqual(['-c -B', '100']);
    expect(searchPathSchemas('"$user", Public, "My ""Odd"" Schema"')).toEqual(['$user', 'public', 'My "Odd" Schema']);
    // What upkit sends: the operator's settings escaped for libpq, then search_path quoted and last.
    expect(startupOptions('public', { application_name: 'a b\\c', search_path: 'app' })).toBe(
      '-c application_name=a\\ b\\\\c -c search_path="public"',
    );
    expect(parseSessionOptions(startupOptions('we"ird sc', { x: 'y z' })).settings).toEqual(
      new Map([
        ['x', 'y z'],
        ['search_path', '"we""ird sc"'],
      ]),
    );
  });
});
