// Configuration from the environment and `.env` (DESIGN.md "Configuration"). Every problem
// is collected and reported at once, each naming its key; values are never echoed, since
// most of them can hold a password.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { parse as parseConnectionString } from 'pg-connection-string';
import { UpkitError, usageError } from './errors.ts';
import { parseSessionOptions, searchPathSchemas } from './pgOptions.ts';
import { shellQuote, sqlIdent } from './quote.ts';
import { redact, registerSecret, registerUrlCredentials } from './redact.ts';

export type SslMode = 'false' | 'true' | 'require' | 'verify-full';

/** Where one database connection goes. `password` is registered as a secret on load. */
export interface DbTarget {
  /** A host name or address, or a Unix-socket directory (an absolute path). */
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  /** Which key it came from, for messages: never the value itself. */
  source: 'DATABASE_URL' | 'DB_*' | 'DIRECT_URL';
  /** The schema every session's search_path is pinned to (public when absent). */
  schema?: string;
  /** Server settings from the URL's `options` (`-c name=value`), passed on to every session; never search_path. */
  settings?: Record<string, string>;
  /** Another app's folder (not Pulse's): search_path is the app's, not upkit's `public`. */
  app?: boolean;
  /**
   * For an app: the search_path every session pins, as the server reads it: the URL's
   * `options`, else UPKIT_SEARCH_PATH, else the one the server sets for this role and
   * database (read once, at the first connect, by lib/db.ts).
   */
  searchPath?: string;
}

/** The schema upkit works in: Pulse's migrations (and upkit's catalog reads) name `public`. */
export const TARGET_SCHEMA = 'public';

/** A configuration problem that does not stop the command: shown with ⚠ and reported as a finding. */
export interface ConfigWarning {
  code: string;
  message: string;
  hint: string;
}

export interface Config {
  db: DbTarget;
  /** The connection migrations use: DIRECT_URL when set (bypasses a pooler), else `db`. */
  migrationDb: DbTarget;
  /** DIRECT_URL_DIFFERENT_DATABASE: DIRECT_URL reaches another database than DATABASE_URL on purpose. */
  directUrlDifferentDatabase: boolean;
  ssl: SslMode;
  sslCa: string | undefined;
  connectTimeoutMs: number;
  migrationTimeoutMs: number;
  lockTimeoutMs: number;
  /** How often a migration that hit lock_timeout is tried again (waits double from 250 ms). */
  lockRetries: number;
  /** How long health checks wait for endpoints and the migration state (ms). */
  healthTimeoutMs: number;
  /** How long containers may take to be running and healthy after `up` (ms). */
  composeTimeoutMs: number;
  /** How long install waits for PostgreSQL to accept connections (ms). */
  dbWaitTimeoutMs: number;
  backupDir: string;
  backupKeep: number;
  composeFile: string | undefined;
  dbService: string;
  healthcheckUrls: string[];
  drizzleDir: string;
  legacyDir: string;
  /** `UPKIT_REPEATABLE_DIR`: the repeatable SQL folder; unset: the profile's own (beside its drizzle folder). */
  repeatableDir?: string | undefined;
  /** Where pg_dump and pg_restore are looked for first (and only there) when set. */
  pgBinDir: string | undefined;
  /** The `.env` file that was read, if any. */
  envFile: string | undefined;
  /** What is odd but allowed (a key set twice in `.env`, …), for the command to show. */
  warnings: ConfigWarning[];
}

/** Values given on the command line; they win over the environment. */
export interface ConfigOverrides {
  backupDir?: string;
  lockTimeoutMs?: number;
  migrationTimeoutMs?: number;
  drizzleDir?: string;
  legacyDir?: string;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * `--dotenv PATH` (or `--env-file PATH`): must exist. Without it, UPKIT_ENV_FILE (which must
   * exist too), else `.env` in cwd when present. A relative path is read from cwd.
   */
  envFile?: string;
  /** The flag that gave envFile, for messages (default --dotenv). */
  envFileFlag?: EnvFileFlag;
  overrides?: ConfigOverrides;
}

/** The two flags that name the configuration file: upkit's own, and the one Node may take for itself. */
export type EnvFileFlag = '--dotenv' | '--env-file';

/**
 * The configuration file a command line names: `--dotenv PATH`, or `--env-file PATH` (the
 * same; Node 20, 22 and 24 read that one themselves wherever it stands in node's own argv,
 * so `--dotenv` is the form upkit prints). Both at once are refused.
 */
export function givenEnvFile(
  values: Record<string, unknown>,
  invocation: string,
): { path: string; flag: EnvFileFlag } | undefined {
  const dotenv = values.dotenv;
  const envFile = values['env-file'];
  if (typeof dotenv === 'string' && typeof envFile === 'string') {
    throw usageError(
      '--dotenv and --env-file both name the configuration file: give one',
      `run: ${invocation} --dotenv ${shellQuote(dotenv)}`,
    );
  }
  if (typeof dotenv === 'string') return { path: dotenv, flag: '--dotenv' };
  if (typeof envFile === 'string') return { path: envFile, flag: '--env-file' };
  return undefined;
}

/** The flag and path to repeat in a hint (` --dotenv 'PATH'`), as they were given; empty when none was. */
export function envFileArgs(values: Record<string, unknown>): string {
  for (const flag of ['dotenv', 'env-file'] as const)
    if (typeof values[flag] === 'string') return ` --${flag} ${shellQuote(values[flag] as string)}`;
  return '';
}

/**
 * The configuration file that is read, and what named it: the flag, else UPKIT_ENV_FILE, else
 * `.env` in the working directory when there is one (undefined: none). Relative paths are
 * read from cwd. The file a flag or UPKIT_ENV_FILE names must exist (loadConfig says so).
 */
export function envFileOf(
  given: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
  flag: EnvFileFlag = '--dotenv',
): { file: string; named: EnvFileFlag | 'UPKIT_ENV_FILE' | '.env' } | undefined {
  if (given !== undefined) return { file: path.resolve(cwd, given), named: flag };
  const fromEnv = env.UPKIT_ENV_FILE?.trim();
  if (fromEnv) return { file: path.resolve(cwd, fromEnv), named: 'UPKIT_ENV_FILE' };
  const dotenv = path.join(cwd, '.env');
  return existsSync(dotenv) ? { file: dotenv, named: '.env' } : undefined;
}

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const DEFAULTS = {
  port: 5432,
  connectTimeoutMs: 10_000,
  // Application queries queue behind a migration waiting for a lock for at most this long.
  lockTimeoutMs: 150,
  migrationTimeoutMs: 3_600_000,
  backupKeep: 5,
  lockRetries: 6,
  healthTimeoutMs: 120_000,
  composeTimeoutMs: 300_000,
  dbWaitTimeoutMs: 60_000,
  dbService: 'db',
} as const;

const SSL_MODES: readonly SslMode[] = ['false', 'true', 'require', 'verify-full'];

const URL_HINT =
  'expected postgres://USER:PASSWORD@HOST:5432/DATABASE; ' +
  'percent-encode @ : / % # and spaces in the password (or use DB_PASSWORD)';

class Problems {
  readonly list: string[] = [];
  /** The key (or file line) each problem names, in the same order. */
  readonly keys: string[] = [];
  /** A hint of the problem's own, used when it is the only one. */
  readonly hints: Array<string | undefined> = [];
  add(key: string, what: string, hint?: string): void {
    this.list.push(`${key}: ${what}`);
    this.keys.push(key);
    this.hints.push(hint);
  }
}

/** Keys upkit reads from `.env` whose values a line break would change. */
const CONNECTION_KEYS = new Set([
  'DATABASE_URL',
  'DIRECT_URL',
  'DB_HOST',
  'DB_PORT',
  'DB_USER',
  'DB_PASSWORD',
  'DB_NAME',
  'DB_SCHEMA',
]);

/**
 * Why new URL() refused a connection URL, without echoing any part of it: what sits where
 * the port should be may well be the tail of a password that was not percent-encoded.
 */
function unparsable(value: string): string {
  const rest = value.replace(/^postgres(ql)?:\/\//i, '');
  const at = rest.lastIndexOf('@');
  const userinfo = at === -1 ? '' : rest.slice(0, at);
  if (/[/?#]/.test(userinfo)) {
    return (
      'has a / ? or # in the user name or password that is not percent-encoded ' +
      '(write / as %2F, ? as %3F, # as %23), or set the password in DB_PASSWORD'
    );
  }
  const hostPort = (at === -1 ? rest : rest.slice(at + 1)).split(/[/?#]/)[0] ?? '';
  const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort);
  if (m && !m[1]) return `names no host (${URL_HINT})`;
  if (m && m[2] !== undefined && !(/^\d+$/.test(m[2]) && Number(m[2]) >= 1 && Number(m[2]) <= 65535)) {
    return `has a port that is not a number from 1 to 65535 (${URL_HINT})`;
  }
  return `cannot be parsed (${URL_HINT})`;
}

/**
 * Reads `.env` as dotenv does (and so as Pulse itself reads it), reporting lines dotenv would
 * silently drop, and warning of a key set twice (the last line wins) and of `\n` or `\r` in a
 * double-quoted connection value (dotenv turns them into a line break and a carriage return).
 */
function readEnvFile(file: string, problems: Problems, warnings: ConfigWarning[]): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.add(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return {};
  }
  const lines = text.split(/\r?\n/);
  let inQuoted: string | null = null;
  const seen = new Map<string, number[]>();
  const name = path.basename(file);
  lines.forEach((line, i) => {
    if (inQuoted) {
      if (line.includes(inQuoted)) inQuoted = null;
      return;
    }
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(trimmed);
    if (!m) {
      problems.add(`${path.basename(file)} line ${i + 1}`, 'is not KEY=VALUE (it would be ignored)');
      return;
    }
    const value = m[2] ?? '';
    const quote = value[0];
    seen.set(m[1]!, [...(seen.get(m[1]!) ?? []), i + 1]);
    if (quote === '"' && CONNECTION_KEYS.has(m[1]!) && /\\[nr]/.test(value)) {
      warnings.push({
        code: 'config.env-escape',
        message:
          `${m[1]} (${name} line ${i + 1}): \\n or \\r inside ` +
          `double quotes is read as a line break (as dotenv reads it)`,
        hint: `to keep the backslash, put the value in single quotes in ${file} (line ${i + 1})`,
      });
    }
    // dotenv ends an unquoted value at '#': a password holding one would be cut short.
    if (quote !== '"' && quote !== "'" && quote !== '`' && /[^\s]#/.test(value)) {
      problems.add(
        `${m[1]} (${path.basename(file)} line ${i + 1})`,
        "holds a '#' in an unquoted value, where it starts a comment; put the value in quotes",
      );
    }
    if ((quote === '"' || quote === "'" || quote === '`') && value.indexOf(quote, 1) === -1) {
      inQuoted = quote;
    }
  });
  if (inQuoted) problems.add(path.basename(file), `a value opened with ${inQuoted} is never closed`);
  for (const [key, at] of seen) {
    if (at.length < 2) continue;
    const listed = `${at.slice(0, -1).join(', ')} and ${at.at(-1)}`;
    warnings.push({
      code: 'config.env-duplicate',
      message:
        `${key} is set ${at.length === 2 ? 'twice' : `${at.length} times`}` +
        ` in ${name} (lines ${listed}); line ${at.at(-1)} wins`,
      hint: `remove the line${at.length > 2 ? 's' : ''} you do not mean from ${file}`,
    });
  }
  return dotenv.parse(text);
}

/** The largest value PostgreSQL's timeout settings and Node's timers accept (lib/cliLimits.ts). */
import { MAX_INT32 } from './cliLimits.ts';
export { MAX_INT32 };

interface Range {
  allowZero?: boolean;
  /** The largest accepted value, and why (what refuses a larger one). */
  max?: number;
  why?: string;
}

/**
 * A whole number in the range PostgreSQL and Node accept: a value outside it is refused here
 * (exit 2, naming the key and the range), before any connection, backup or change.
 */
function positiveInt(
  env: Record<string, string | undefined>,
  key: string,
  fallback: number,
  problems: Problems,
  {
    allowZero = false,
    max = MAX_INT32,
    why = key.endsWith('TIMEOUT') ? "Node's largest timer" : 'the largest PostgreSQL integer',
  }: Range = {},
): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  const unit = key.endsWith('TIMEOUT') ? ' of milliseconds' : '';
  if (!Number.isInteger(n) || n < 0 || (!allowZero && n === 0)) {
    problems.add(key, `must be a whole number${unit}${allowZero ? '' : ' above 0'}, got "${raw}"`);
    return fallback;
  }
  if (n > max) {
    problems.add(key, `must be a whole number${unit} from ${allowZero ? 0 : 1} to ${max} (${why}), got "${raw}"`);
    return fallback;
  }
  return n;
}

function parsePort(raw: string | null | undefined, key: string, problems: Problems): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULTS.port;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    problems.add(key, `port must be a number from 1 to 65535, got "${raw}"`);
    return DEFAULTS.port;
  }
  return n;
}

function targetFromUrl(
  key: 'DATABASE_URL' | 'DIRECT_URL',
  raw: string,
  problems: Problems,
  warnings: ConfigWarning[] = [],
  app = false,
): DbTarget | undefined {
  const value = raw.trim();
  if (!/^postgres(ql)?:\/\//i.test(value)) {
    problems.add(key, `is not a PostgreSQL connection URL (${URL_HINT})`);
    return undefined;
  }
  if (/\s/.test(value)) {
    problems.add(key, `holds a space (${URL_HINT})`);
    return undefined;
  }
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    // WHATWG URL parsing rejects what the parser below would misread (an unencoded # or /).
    // libpq's `postgres://user@/db?host=/run/postgresql` (a socket directory, no host part)
    // is checked with a stand-in host: the query's host is what counts.
    const socketForm = /[?&]host=/i.test(value)
      ? value.replace(/^(postgres(?:ql)?:\/\/(?:[^@/?#]*@)?)(?=[/?#]|$)/i, '$1localhost')
      : value;
    new URL(socketForm);
    // SSL is decided from DATABASE_SSL or sslmode by upkit itself (below); left in, sslmode
    // only makes the parser print a notice about its own future semantics.
    parsed = parseConnectionString(
      value.replace(/([?&])sslmode=[^&]*(&|$)/i, (_m, lead: string, tail: string) => (tail ? lead : '')),
    );
  } catch (err) {
    problems.add(
      key,
      err instanceof URIError ? `holds a % that is not followed by two hex digits (${URL_HINT})` : unparsable(value),
    );
    return undefined;
  }
  const before = problems.list.length;
  const params = parsed as Record<string, unknown>;
  for (const unsupported of ['hostaddr', 'service']) {
    if (params[unsupported] !== undefined)
      problems.add(
        key,
        `sets ${unsupported}, which upkit does not use (name the ` +
          `server in the URL's host, or in host=/socket/directory)`,
      );
  }
  if (typeof params.dbname === 'string' && params.dbname) parsed.database = params.dbname;
  if (parsed.host && parsed.host.startsWith('/') === false && parsed.host.includes('/')) {
    problems.add(key, `has a host that is neither a name nor a socket directory (${URL_HINT})`);
  }
  const session = sessionFromUrl(key, params, problems, warnings, app);
  if (!parsed.host) problems.add(key, `names no host (${URL_HINT})`);
  if (!parsed.database) problems.add(key, `names no database (${URL_HINT})`);
  if (!parsed.user) problems.add(key, `names no user (${URL_HINT})`);
  if (parsed.port && !/^\d+$/.test(parsed.port)) {
    problems.add(
      key,
      `has a port that is not a number; a password with @ : / # is probably not percent-encoded (${URL_HINT})`,
    );
  }
  const port = parsePort(parsed.port, key, problems);
  if (problems.list.length > before) return undefined;
  registerSecret(parsed.password);
  return {
    host: parsed.host!,
    port,
    user: parsed.user!,
    password: parsed.password === '' ? undefined : parsed.password,
    database: parsed.database!,
    source: key,
    schema: session.schema ?? TARGET_SCHEMA,
    ...(session.settings ? { settings: session.settings } : {}),
    ...(app ? { app, ...(session.searchPath !== undefined ? { searchPath: session.searchPath } : {}) } : {}),
  };
}

/** Session timeouts upkit decides itself; from a URL's options they are left out, with a warning. */
const OWN_TIMEOUTS = new Set([
  'statement_timeout',
  'lock_timeout',
  'idle_session_timeout',
  'idle_in_transaction_session_timeout',
  'transaction_timeout',
]);

/** Whose migrations and install the messages speak of: Pulse's, or another app's (--drizzle-dir, UPKIT_DRIZZLE_DIR). */
type AppName = 'Pulse' | 'the app';

const schemaHint = (app: AppName) =>
  `upkit works in schema ${TARGET_SCHEMA} only (${app}'s migrations name it): ` +
  `leave search_path out, or set it to ${TARGET_SCHEMA}`;

/**
 * What the URL says about the session: the schema (`options=-c search_path=…`, or the
 * `schema`/`search_path` parameters other tools write) and the other `-c` settings, which
 * are passed on. A search_path of several schemas, or a switch that is not a setting, is refused.
 */
function sessionFromUrl(
  key: string,
  params: Record<string, unknown>,
  problems: Problems,
  warnings: ConfigWarning[],
  app: boolean,
): { schema?: string; settings?: Record<string, string>; searchPath?: string } {
  const out: { schema?: string; settings?: Record<string, string>; searchPath?: string } = {};
  const paths: Array<[string, string]> = [];
  if (typeof params.options === 'string' && params.options.trim()) {
    const options = parseSessionOptions(params.options);
    if (options.unsupported.length) {
      problems.add(
        key,
        `has options that are not -c name=value settings (` +
          `${options.unsupported.join(' ')}); upkit passes on only settings`,
        `remove them from the options of ${key}, then run: npx zx scripts/preflight.ts`,
      );
    }
    const sp = options.settings.get('search_path');
    if (sp !== undefined) paths.push(['options', sp]);
    options.settings.delete('search_path');
    // A timeout meant for the app's queries would cut a backup or a migration short, or end
    // the session that holds upkit's lock while it idles: upkit sets its own.
    const left = [...options.settings.keys()].filter((name) => OWN_TIMEOUTS.has(name));
    for (const name of left) options.settings.delete(name);
    if (left.length) {
      warnings.push({
        code: 'config.options-timeout',
        message: `${key}: options set ${left.join(', ')}, which upkit leaves out of its own sessions`,
        hint: 'upkit sets its own timeouts (MIGRATION_TIMEOUT, LOCK_TIMEOUT, CONNECT_TIMEOUT); nothing to do',
      });
    }
    if (options.settings.size) out.settings = Object.fromEntries(options.settings);
  }
  for (const param of ['search_path', 'schema']) {
    if (typeof params[param] === 'string') paths.push([param, params[param] as string]);
  }
  // An app's search_path is its own (any list of schemas), pinned as given.
  if (app) {
    const given = paths.find(([where]) => where !== 'schema');
    if (given && searchPathSchemas(given[1]).length) out.searchPath = given[1];
    return out;
  }
  for (const [where, value] of paths) {
    const schemas = searchPathSchemas(value);
    const said = where === 'options' ? 'sets search_path' : `sets ${where}`;
    if (schemas.length !== 1) {
      problems.add(
        key,
        `${said} to ${schemas.length ? schemas.join(', ') : 'nothing'}; upkit works in one schema, named alone`,
        `${schemaHint('Pulse')}, then run: npx zx scripts/preflight.ts`,
      );
      continue;
    }
    if (out.schema !== undefined && out.schema !== schemas[0]) {
      problems.add(
        key,
        `names two schemas (${out.schema} and ${schemas[0]})`,
        `${schemaHint('Pulse')}, then run: npx zx scripts/preflight.ts`,
      );
      continue;
    }
    out.schema = schemas[0]!;
  }
  return out;
}

/** DB_SCHEMA: the schema, named as it is stored (no quotes, no case folding); it must agree with the URL's. */
function applySchemaKey(
  raw: string | undefined,
  targets: Array<DbTarget | undefined>,
  problems: Problems,
  app: AppName,
): void {
  const schema = raw?.trim();
  if (!schema) return;
  if (Buffer.byteLength(schema) > 63 || schema.includes('\0')) {
    problems.add('DB_SCHEMA', 'is not a schema name (at most 63 bytes)');
    return;
  }
  for (const t of targets) {
    if (!t) continue;
    if (t.source !== 'DB_*' && t.schema !== TARGET_SCHEMA && t.schema !== schema) {
      problems.add(
        'DB_SCHEMA',
        `names schema ${schema}, but ${t.source} sets search_path to ${t.schema}`,
        `${schemaHint(app)}, then run: npx zx scripts/preflight.ts`,
      );
      continue;
    }
    t.schema = schema;
  }
}

/** Refuses a target schema other than the one upkit works in, naming where it was set. */
function checkSchema(target: DbTarget | undefined, key: string, problems: Problems, app: AppName): void {
  const schema = target?.schema ?? TARGET_SCHEMA;
  if (schema === TARGET_SCHEMA) return;
  problems.add(
    key,
    `${key === 'DB_SCHEMA' ? 'names' : 'sets search_path to'} schema ${schema}, ` +
      `but upkit installs and upgrades ${app} in schema ${TARGET_SCHEMA} only`,
    `${schemaHint(app)}; an install in schema ${schema} must be moved to ${TARGET_SCHEMA}` +
      ` first (ALTER SCHEMA ${sqlIdent(schema)} RENAME TO ${TARGET_SCHEMA}, ` +
      `once ${TARGET_SCHEMA} is renamed away), then run: npx zx scripts/preflight.ts`,
  );
}

function targetFromParts(
  env: Record<string, string | undefined>,
  problems: Problems,
  cwd: string,
  envFile: string | undefined,
): DbTarget | undefined {
  const before = problems.list.length;
  // Nothing at all: most often upkit was started outside the directory that holds Pulse's .env.
  if (!['DB_HOST', 'DB_USER', 'DB_NAME', 'DB_PORT', 'DB_PASSWORD'].some((k) => env[k]?.trim())) {
    problems.add(
      'DATABASE_URL',
      `is not set, and neither are DB_HOST, DB_USER and DB_NAME` +
        `${envFile ? ` (in the environment or ${envFile})` : ` (in the environment; there is no .env in ${cwd})`}`,
    );
    return undefined;
  }
  for (const key of ['DB_HOST', 'DB_USER', 'DB_NAME'] as const) {
    if (!env[key]?.trim()) problems.add(key, 'is not set (set DATABASE_URL, or DB_HOST, DB_USER and DB_NAME)');
  }
  const port = parsePort(env.DB_PORT?.trim(), 'DB_PORT', problems);
  if (problems.list.length > before) return undefined;
  registerSecret(env.DB_PASSWORD);
  return {
    host: env.DB_HOST!.trim(),
    port,
    user: env.DB_USER!.trim(),
    password: env.DB_PASSWORD === '' ? undefined : env.DB_PASSWORD,
    database: env.DB_NAME!.trim(),
    source: 'DB_*',
    schema: TARGET_SCHEMA,
  };
}

function sslFromUrl(raw: string | undefined): SslMode | undefined {
  const mode = raw ? /[?&]sslmode=([a-z-]+)/i.exec(raw)?.[1]?.toLowerCase() : undefined;
  if (!mode) return undefined;
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer') return 'false';
  if (mode === 'verify-ca' || mode === 'verify-full') return 'verify-full';
  return 'require';
}

function directory(
  env: Record<string, string | undefined>,
  key: string,
  given: string | undefined,
  fallback: string,
  cwd: string,
  problems: Problems,
  mustExist: boolean,
): string {
  const raw = given ?? env[key]?.trim();
  const dir = path.resolve(cwd, raw || fallback);
  if (mustExist && raw && !(existsSync(dir) && statSync(dir).isDirectory())) {
    problems.add(
      given !== undefined
        ? `--${key
            .toLowerCase()
            .replace(/^upkit_/, '')
            .replace(/_/g, '-')}`
        : key,
      `directory ${dir} does not exist`,
    );
  }
  return dir;
}

/**
 * Whether a drizzle folder is another app's (not the one upkit ships, Pulse's): messages then
 * speak of "the app". Compared as the profile compares them (real paths: a symlink to Pulse's
 * folder, a release's `current` link, is Pulse's), so that configuration and profile agree.
 */
export function isOtherApp(dir: string | undefined, cwd: string): boolean {
  if (!dir) return false;
  const given = path.resolve(cwd, dir);
  const pulse = path.join(PROJECT_ROOT, 'drizzle');
  try {
    return realpathSync(given) !== realpathSync(pulse);
  } catch {
    return given !== pulse;
  }
}

export function loadConfig(options: LoadOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const problems = new Problems();
  const warnings: ConfigWarning[] = [];
  const { env, envFile, fromFile } = readEnv(options, cwd, problems, warnings);
  const o = options.overrides ?? {};
  registerSecrets(env);
  const { db, direct, dbUrl, directUrl, appName } = readTargets(env, o, cwd, envFile, problems, warnings);
  // Whether DIRECT_URL reaches the database DATABASE_URL reaches is decided by connecting to
  // both (lib/directUrl.ts): a name says nothing about the server, and a pooler's alias may
  // name the same database otherwise.
  const directUrlDifferentDatabase = /^(1|true|yes)$/i.test(env.DIRECT_URL_DIFFERENT_DATABASE?.trim() ?? '');
  const { ssl, sslCa } = readSsl(env, directUrl ?? dbUrl, cwd, problems);
  const limits = readLimits(env, o, problems);

  const composeRaw = env.COMPOSE_FILE?.trim();
  const composeFile = composeRaw ? path.resolve(cwd, composeRaw) : undefined;
  if (composeFile && !existsSync(composeFile)) problems.add('COMPOSE_FILE', `file ${composeFile} does not exist`);
  const healthcheckUrls = readHealthcheckUrls(env, problems);

  const pgBinRaw = env.UPKIT_PG_BINDIR?.trim();
  const config = {
    ssl,
    sslCa,
    connectTimeoutMs: limits.connectTimeoutMs,
    migrationTimeoutMs: limits.migrationTimeoutMs,
    lockTimeoutMs: limits.lockTimeoutMs,
    lockRetries: limits.lockRetries,
    healthTimeoutMs: limits.healthTimeoutMs,
    composeTimeoutMs: limits.composeTimeoutMs,
    dbWaitTimeoutMs: limits.dbWaitTimeoutMs,
    backupDir: path.resolve(cwd, o.backupDir ?? (env.BACKUP_DIR?.trim() || 'backups')),
    backupKeep: limits.backupKeep,
    composeFile,
    dbService: env.UPKIT_DB_SERVICE?.trim() || DEFAULTS.dbService,
    healthcheckUrls,
    drizzleDir: directory(
      env,
      'UPKIT_DRIZZLE_DIR',
      o.drizzleDir,
      path.join(PROJECT_ROOT, 'drizzle'),
      cwd,
      problems,
      true,
    ),
    legacyDir: directory(
      env,
      'UPKIT_LEGACY_DIR',
      o.legacyDir,
      path.join(PROJECT_ROOT, 'legacy-sql'),
      cwd,
      problems,
      true,
    ),
    repeatableDir: env.UPKIT_REPEATABLE_DIR?.trim()
      ? directory(env, 'UPKIT_REPEATABLE_DIR', undefined, '', cwd, problems, true)
      : undefined,
    pgBinDir: pgBinRaw ? path.resolve(cwd, pgBinRaw) : undefined,
    envFile,
    warnings,
    directUrlDifferentDatabase,
  };

  if (problems.list.length > 0 || !db) {
    throw configError(problems, { processEnv: options.env ?? process.env, envFile, fromFile, dbUrl, appName });
  }
  return { ...config, db, migrationDb: direct ?? db };
}

/**
 * The settings: the configuration file's (the one named, else .env in cwd when present) under
 * the environment's. A file that was named but is not there stops everything at once.
 */
function readEnv(
  options: LoadOptions,
  cwd: string,
  problems: Problems,
  warnings: ConfigWarning[],
): { env: Record<string, string | undefined>; envFile: string | undefined; fromFile: Record<string, string> } {
  let envFile: string | undefined;
  let fromFile: Record<string, string> = {};
  const chosen = envFileOf(options.envFile, options.env ?? process.env, cwd, options.envFileFlag);
  if (chosen) {
    envFile = chosen.file;
    const named = chosen.named;
    const again =
      named === 'UPKIT_ENV_FILE'
        ? `set UPKIT_ENV_FILE to the file that holds the settings (a relative path is read from ${cwd}), ` +
          `or unset it to read ${path.join(cwd, '.env')}; then run: npx zx scripts/preflight.ts`
        : `create that file or give the path of the one that holds the settings (a relative path is ` +
          `read from ${cwd}), then run: npx zx scripts/preflight.ts --dotenv ${shellQuote(envFile)}`;
    // The settings are in the file that is not there: nothing else is worth checking.
    const missing = !existsSync(envFile)
      ? 'does not exist'
      : statSync(envFile).isDirectory()
        ? 'is a directory, not a file of KEY=VALUE lines'
        : undefined;
    if (missing)
      throw new UpkitError({
        code: 'config.invalid',
        exit: 'usage',
        message: `${named}: ${envFile} ${missing}`,
        hint: again,
      });
    fromFile = readEnvFile(envFile, problems, warnings);
  }
  // As dotenv does: a variable set in the environment wins over the file.
  const env: Record<string, string | undefined> = { ...fromFile, ...(options.env ?? process.env) };
  return { env, envFile, fromFile };
}

/**
 * The passwords and URL credentials, registered before any validation, so that a problem
 * message echoing a value (a password pasted into the wrong key) is masked too.
 */
function registerSecrets(env: Record<string, string | undefined>): void {
  for (const key of ['DB_PASSWORD', 'PGPASSWORD', 'POSTGRES_PASSWORD']) registerSecret(env[key]);
  for (const key of ['DATABASE_URL', 'DIRECT_URL'])
    registerSecret(env[key] && /^[^:]+:\/\/[^:/?#@\s]*:(.*)@[^@]*$/.exec(env[key]!.trim())?.[1]);
  // Credentials in any URL-ish setting, with or without a scheme.
  for (const key of ['DATABASE_URL', 'DIRECT_URL']) registerUrlCredentials(env[key]);
  for (const u of (env.HEALTHCHECK_URLS ?? '').split(',')) registerUrlCredentials(u, { userIsToken: true });
}

/**
 * The database to migrate (DATABASE_URL, else DB_*) and DIRECT_URL's, with their search_path or
 * schema; whose app they serve (Pulse or another); a DB_* that disagrees with DATABASE_URL named.
 */
function readTargets(
  env: Record<string, string | undefined>,
  o: ConfigOverrides,
  cwd: string,
  envFile: string | undefined,
  problems: Problems,
  warnings: ConfigWarning[],
) {
  // Another app's drizzle folder (not Pulse's): its search_path is its own, and messages speak of "the app".
  const appName: AppName = isOtherApp(o.drizzleDir ?? env.UPKIT_DRIZZLE_DIR?.trim(), cwd) ? 'the app' : 'Pulse';
  const app = appName === 'the app';
  const dbUrl = env.DATABASE_URL?.trim();
  const db = dbUrl
    ? targetFromUrl('DATABASE_URL', dbUrl, problems, warnings, app)
    : targetFromParts(env, problems, cwd, envFile);
  const directUrl = env.DIRECT_URL?.trim();
  const direct = directUrl ? targetFromUrl('DIRECT_URL', directUrl, problems, warnings, app) : undefined;
  if (app) {
    const setting = env.UPKIT_SEARCH_PATH?.trim();
    if (setting && !searchPathSchemas(setting).length)
      problems.add('UPKIT_SEARCH_PATH', 'names no schema (a search_path value, e.g. "$user", app, public)');
    for (const t of [db, direct]) {
      if (!t) continue;
      t.app = true;
      if (t.searchPath === undefined && setting && searchPathSchemas(setting).length) t.searchPath = setting;
      // DB_SCHEMA names the one schema an app works in: its search_path, unless one is set above.
      const schema = env.DB_SCHEMA?.trim();
      if (t.searchPath === undefined && !setting && schema) t.searchPath = sqlIdent(schema);
    }
  }
  if (!app) applySchemaKey(env.DB_SCHEMA, [db, direct], problems, appName);
  if (dbUrl && db) warnUrlAndParts(env, db, warnings);
  if (db && !app)
    checkSchema(db, db.schema !== TARGET_SCHEMA && env.DB_SCHEMA?.trim() ? 'DB_SCHEMA' : db.source, problems, appName);
  if (direct && !app && direct.schema !== db?.schema) checkSchema(direct, 'DIRECT_URL', problems, appName);
  return { db, direct, dbUrl, directUrl, appName };
}

/** Both ways of naming the database: DATABASE_URL wins, and a DB_* that says otherwise is named. */
function warnUrlAndParts(env: Record<string, string | undefined>, db: DbTarget, warnings: ConfigWarning[]): void {
  const named: Array<[string, string | undefined]> = [
    ['DB_HOST', db.host],
    ['DB_PORT', String(db.port)],
    ['DB_USER', db.user],
    ['DB_PASSWORD', db.password],
    ['DB_NAME', db.database],
  ];
  const differ = named.filter(([k, v]) => env[k]?.trim() && env[k]!.trim() !== (v ?? '')).map(([k]) => k);
  if (differ.length) {
    warnings.push({
      code: 'config.url_and_parts',
      message:
        `DATABASE_URL and ${differ.join(', ')} are both set and disagree: DATABASE_URL wins (` +
        `${describeTarget(db)}), ${differ.join(', ')} ${differ.length > 1 ? 'are' : 'is'} not used`,
      hint:
        `remove ${differ.join(', ')} from .env or the environment (or make ` +
        `${differ.length > 1 ? 'them' : 'it'} match DATABASE_URL) so that every program reads the same database`,
    });
  }
}

/** DATABASE_SSL (else the URL's sslmode) and DATABASE_SSL_CA, which only verify-full uses. */
function readSsl(
  env: Record<string, string | undefined>,
  url: string | undefined,
  cwd: string,
  problems: Problems,
): { ssl: SslMode; sslCa: string | undefined } {
  let ssl: SslMode = 'false';
  const sslRaw = env.DATABASE_SSL?.trim().toLowerCase();
  if (sslRaw) {
    if ((SSL_MODES as readonly string[]).includes(sslRaw)) ssl = sslRaw as SslMode;
    else problems.add('DATABASE_SSL', `must be one of ${SSL_MODES.join(', ')}, got "${env.DATABASE_SSL}"`);
  } else {
    ssl = sslFromUrl(url) ?? 'false';
  }
  const sslCaRaw = env.DATABASE_SSL_CA?.trim();
  const sslCa = sslCaRaw ? path.resolve(cwd, sslCaRaw) : undefined;
  if (sslCa && !existsSync(sslCa)) problems.add('DATABASE_SSL_CA', `file ${sslCa} does not exist`);
  if (sslCa && ssl !== 'verify-full') problems.add('DATABASE_SSL_CA', 'is only used with DATABASE_SSL=verify-full');
  return { ssl, sslCa };
}

/** The timeouts, the lock retries and the number of backups kept. */
function readLimits(env: Record<string, string | undefined>, o: ConfigOverrides, problems: Problems) {
  const lockTimeoutMs =
    o.lockTimeoutMs ??
    positiveInt(env, 'LOCK_TIMEOUT', DEFAULTS.lockTimeoutMs, problems, { why: "PostgreSQL's largest lock_timeout" });
  const migrationTimeoutMs =
    o.migrationTimeoutMs ??
    positiveInt(env, 'MIGRATION_TIMEOUT', DEFAULTS.migrationTimeoutMs, problems, {
      allowZero: true,
      why: "PostgreSQL's largest statement_timeout",
    });
  const connectTimeoutMs = positiveInt(env, 'CONNECT_TIMEOUT', DEFAULTS.connectTimeoutMs, problems);
  // The waits between retries double from 250 ms: a 25th would be longer than Node's largest timer.
  const lockRetries = positiveInt(env, 'LOCK_RETRIES', DEFAULTS.lockRetries, problems, {
    allowZero: true,
    max: 24,
    why: "the waits double from 250 ms; a 25th would exceed Node's largest timer",
  });
  const healthTimeoutMs = positiveInt(env, 'HEALTH_TIMEOUT', DEFAULTS.healthTimeoutMs, problems);
  const composeTimeoutMs = positiveInt(env, 'COMPOSE_TIMEOUT', DEFAULTS.composeTimeoutMs, problems);
  const dbWaitTimeoutMs = positiveInt(env, 'DB_WAIT_TIMEOUT', DEFAULTS.dbWaitTimeoutMs, problems);
  const backupKeep = positiveInt(env, 'BACKUP_KEEP', DEFAULTS.backupKeep, problems);
  return {
    lockTimeoutMs,
    migrationTimeoutMs,
    connectTimeoutMs,
    lockRetries,
    healthTimeoutMs,
    composeTimeoutMs,
    dbWaitTimeoutMs,
    backupKeep,
  };
}

/** HEALTHCHECK_URLS: comma-separated http(s) URLs. */
function readHealthcheckUrls(env: Record<string, string | undefined>, problems: Problems): string[] {
  const healthcheckUrls = (env.HEALTHCHECK_URLS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const u of healthcheckUrls) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok) problems.add('HEALTHCHECK_URLS', `"${u}" is not an http(s) URL`);
  }
  return healthcheckUrls;
}

/**
 * The error a configuration with problems stops with (exit 2): one problem with the hint of
 * what to edit (the key where it was read, or the file's line), or every problem listed.
 */
function configError(
  problems: Problems,
  at: {
    processEnv: NodeJS.ProcessEnv;
    envFile: string | undefined;
    fromFile: Record<string, string>;
    dbUrl: string | undefined;
    appName: AppName;
  },
): UpkitError {
  const { processEnv, envFile, fromFile, dbUrl, appName } = at;
  const n = problems.list.length;
  // What to edit for the one problem: the key where it was read, or the file's line.
  const fixWhat = (named: string): string => {
    const line = / line (\d+)\)?$/.exec(named);
    const key = named.split(' ')[0]!;
    if (/^[A-Z_][A-Z0-9_]*$/.test(key)) {
      if (processEnv[key] !== undefined) return `${key} in the environment`;
      if (key in fromFile) return `${key} in ${envFile}${line ? ` (line ${line[1]})` : ''}`;
      return `${key} in the environment or ${envFile ?? '.env'}`;
    }
    if (key.startsWith('--')) return `the path given to ${key}`;
    return line ? `line ${line[1]} of ${envFile}` : (envFile ?? named);
  };
  if (n === 1) {
    const named = problems.keys[0]!;
    const hint =
      named === 'DATABASE_URL' && !dbUrl && !envFile
        ? `run upkit in the directory that holds ${appName}'s .env, or pass --dotenv PATH, or set DATABASE_URL`
        : (problems.hints[0] ?? `fix ${fixWhat(named)}, then run: npx zx scripts/preflight.ts`);
    return new UpkitError({
      code: 'config.invalid',
      exit: 'usage',
      message: redact(problems.list[0]!),
      hint: redact(hint),
    });
  }
  return new UpkitError({
    code: 'config.invalid',
    exit: 'usage',
    message: `configuration has ${n} problems${envFile ? ` (environment and ${envFile})` : ' (environment)'}`,
    details: problems.list.map(redact),
    hint: 'fix the keys named above in .env or the environment, then run: npx zx scripts/preflight.ts',
  });
}

/** `user@host:port/database`, for messages: never the password. */
export function describeTarget(t: DbTarget): string {
  return `${t.user}@${t.host}:${t.port}/${t.database}`;
}
