// The targets file: which databases a run covers, where each one's connection comes from
// (never the password itself), its profile, backup folder and the targets it comes after.
// Every problem is listed at once, each named by the file and the JSON path of the entry.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UpkitError } from '../errors.ts';
import { shellQuote } from '../quote.ts';

export const TARGETS_FILE = 'upkit.targets.json';

export type TargetProfile = { kind: 'pulse' } | { kind: 'app'; drizzleDir: string };

export interface Target {
  name: string;
  /** The environment variable holding the database URL. */
  url?: string;
  /** A `DB_*`-style prefix: `ORDERS_` reads ORDERS_DB_HOST, ORDERS_DB_PORT, … */
  prefix?: string;
  /** The environment variable holding a direct URL for migrations (bypassing a pooler). */
  directUrl?: string;
  profile: TargetProfile;
  /** Absolute (resolved from the targets file's folder). */
  backupDir?: string;
  after: string[];
}

export interface TargetsFile {
  file: string;
  targets: Target[];
}

const ENTRY_KEYS = ['name', 'url', 'prefix', 'directUrl', 'profile', 'backupDir', 'after'] as const;
const TOP_KEYS = ['targets'] as const;
/** A field that looks as if it holds a secret: the file names where a secret is, never holds it. */
const SECRET_KEY = /pass|pwd|secret|token|credential|auth/i;
/** Target names go into log lines, report keys and shell commands: a plain identifier. */
const NAME = /^[a-z][a-z0-9_-]{0,62}$/i;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PREFIX = /^([A-Za-z_][A-Za-z0-9_]*)?$/;

/** Where the targets file is: --targets, else UPKIT_TARGETS, else upkit.targets.json in the working directory. */
export function targetsFilePath(
  given: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
): { file: string; via: string } {
  if (given !== undefined) return { file: path.resolve(cwd, given), via: '--targets' };
  const fromEnv = env.UPKIT_TARGETS?.trim();
  if (fromEnv) return { file: path.resolve(cwd, fromEnv), via: 'UPKIT_TARGETS' };
  return { file: path.resolve(cwd, TARGETS_FILE), via: 'the working directory' };
}

class Problems {
  readonly list: string[] = [];
  add(at: string, what: string): void {
    this.list.push(`${at}: ${what}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value that is a connection URL with a password in it, or a password where a variable's name belongs. */
function looksLikeSecretValue(v: string): boolean {
  return /:\/\/[^/@\s]*:[^/@\s]*@/.test(v);
}

function refuseSecrets(at: string, obj: Record<string, unknown>, problems: Problems): void {
  for (const key of Object.keys(obj)) {
    // Worded so that no "password: …" follows: that is how a secret is written, and it would be masked.
    if (SECRET_KEY.test(key))
      problems.add(
        at,
        `has a field that looks like a password (${key}); the targets file holds no secrets, ` +
          `only where they are (url names a variable, prefix reads <PREFIX>DB_PASSWORD from the environment or .env)`,
      );
  }
}

function parseEntry(raw: unknown, at: string, dir: string, problems: Problems): Target | undefined {
  if (!isObject(raw)) {
    problems.add(at, 'must be an object with name, url or prefix, and profile');
    return undefined;
  }
  refuseSecrets(at, raw, problems);
  for (const key of Object.keys(raw)) {
    if (!(ENTRY_KEYS as readonly string[]).includes(key) && !SECRET_KEY.test(key))
      problems.add(`${at}.${key}`, `is not a known key (known: ${ENTRY_KEYS.join(', ')})`);
  }
  const before = problems.list.length;
  const { name, url, prefix, directUrl, profile, backupDir, after } = raw;
  if (typeof name !== 'string' || !NAME.test(name))
    problems.add(
      `${at}.name`,
      'must be a name of letters, digits, _ and - (starting with a letter, at most 63 characters)',
    );
  for (const [key, value] of [
    ['url', url],
    ['directUrl', directUrl],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value === 'string' && looksLikeSecretValue(value))
      problems.add(
        `${at}.${key}`,
        'holds a connection URL with a password; name the environment ' +
          'variable that holds it instead (e.g. "ORDERS_DATABASE_URL")',
      );
    else if (typeof value !== 'string' || !ENV_NAME.test(value))
      problems.add(
        `${at}.${key}`,
        'must be the name of an environment variable holding the URL (e.g. "ORDERS_DATABASE_URL")',
      );
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || !PREFIX.test(prefix)))
    problems.add(
      `${at}.prefix`,
      'must be a prefix of letters, digits and _ (e.g. "ORDERS_" for ORDERS_DB_HOST, ORDERS_DB_NAME, …)',
    );
  if (url === undefined && prefix === undefined)
    problems.add(
      at,
      'names no connection: set url (an environment variable holding a URL) ' +
        'or prefix (for <PREFIX>DB_HOST, <PREFIX>DB_NAME, …)',
    );
  if (url !== undefined && prefix !== undefined)
    problems.add(at, 'sets both url and prefix; a target takes its connection from one of them');
  let parsedProfile: TargetProfile | undefined;
  if (profile === 'pulse') parsedProfile = { kind: 'pulse' };
  else if (isObject(profile)) {
    refuseSecrets(`${at}.profile`, profile, problems);
    for (const key of Object.keys(profile))
      if (key !== 'drizzleDir' && !SECRET_KEY.test(key))
        problems.add(`${at}.profile.${key}`, 'is not a known key (known: drizzleDir)');
    if (typeof profile.drizzleDir !== 'string' || !profile.drizzleDir.trim())
      problems.add(
        `${at}.profile.drizzleDir`,
        "must be the path of the app's drizzle folder (relative to the targets file)",
      );
    else {
      const drizzleDir = path.resolve(dir, profile.drizzleDir);
      if (!existsSync(drizzleDir) || !statSync(drizzleDir).isDirectory())
        problems.add(`${at}.profile.drizzleDir`, `directory ${drizzleDir} does not exist`);
      else parsedProfile = { kind: 'app', drizzleDir };
    }
  } else problems.add(`${at}.profile`, 'must be "pulse" or {"drizzleDir": "path"} for an app');
  for (const [key, value] of [
    ['backupDir', backupDir],
    ['profile.drizzleDir', isObject(profile) ? profile.drizzleDir : undefined],
  ] as const) {
    if (typeof value === 'string' && looksLikeSecretValue(value))
      problems.add(`${at}.${key}`, 'holds a URL with a password; the targets file holds no secrets');
  }
  if (backupDir !== undefined && (typeof backupDir !== 'string' || !backupDir.trim()))
    problems.add(`${at}.backupDir`, 'must be a folder path (relative to the targets file)');
  if (after !== undefined && (!Array.isArray(after) || after.some((a) => typeof a !== 'string')))
    problems.add(`${at}.after`, 'must be a list of target names');
  if (problems.list.length > before) return undefined;
  return {
    name: name as string,
    ...(url !== undefined ? { url: url as string } : {}),
    ...(prefix !== undefined ? { prefix: prefix as string } : {}),
    ...(directUrl !== undefined ? { directUrl: directUrl as string } : {}),
    profile: parsedProfile!,
    ...(backupDir !== undefined ? { backupDir: path.resolve(dir, backupDir as string) } : {}),
    after: [...new Set((after as string[] | undefined) ?? [])],
  };
}

/** A cycle through `after`, as names (a → b → a), or undefined. */
export function findCycle(targets: readonly Pick<Target, 'name' | 'after'>[]): string[] | undefined {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const next of byName.get(name)?.after ?? []) {
      if (!byName.has(next)) continue;
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const t of targets) {
    const cycle = visit(t.name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Parses and checks the file's text; `file` names it in messages and anchors relative paths. */
export function parseTargets(text: string, file: string): TargetsFile {
  const problems = new Problems();
  const fail = (): never => {
    const hint = `fix ${shellQuote(file)}, then run: npx zx upgrade.ts --all --dry-run`;
    if (problems.list.length === 1)
      throw new UpkitError({ code: 'targets.invalid', exit: 'usage', message: `${file}: ${problems.list[0]}`, hint });
    throw new UpkitError({
      code: 'targets.invalid',
      exit: 'usage',
      message: `${file} has ${problems.list.length} problems`,
      details: problems.list,
      hint,
    });
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    problems.add('$', `is not valid JSON (${(err as Error).message})`);
    return fail();
  }
  const dir = path.dirname(file);
  if (!isObject(doc)) {
    problems.add('$', 'must be an object: {"targets": [ … ]}');
    return fail();
  }
  refuseSecrets('$', doc, problems);
  for (const key of Object.keys(doc))
    if (!(TOP_KEYS as readonly string[]).includes(key) && !SECRET_KEY.test(key))
      problems.add(`$.${key}`, 'is not a known key (known: targets)');
  if (!Array.isArray(doc.targets) || doc.targets.length === 0) {
    problems.add('$.targets', 'must be a list of at least one target');
    return fail();
  }
  const targets: Target[] = [];
  const seen = new Map<string, number>();
  doc.targets.forEach((raw: unknown, i: number) => {
    const at = `$.targets[${i}]`;
    const t = parseEntry(raw, at, dir, problems);
    if (!t) return;
    const first = seen.get(t.name.toLowerCase());
    if (first !== undefined)
      problems.add(
        `${at}.name`,
        `"${t.name}" is already the name of $.targets[${first}] (names are unique, whatever their case)`,
      );
    else seen.set(t.name.toLowerCase(), i);
    targets.push(t);
  });
  if (problems.list.length) return fail();
  const names = new Set(targets.map((t) => t.name));
  targets.forEach((t, i) => {
    for (const a of t.after) {
      if (a === t.name) problems.add(`$.targets[${i}].after`, `"${t.name}" cannot come after itself`);
      else if (!names.has(a))
        problems.add(`$.targets[${i}].after`, `names "${a}", which is no target (targets: ${[...names].join(', ')})`);
    }
  });
  if (problems.list.length) return fail();
  const cycle = findCycle(targets);
  if (cycle) {
    const i = targets.findIndex((t) => t.name === cycle[0]);
    problems.add(`$.targets[${i}].after`, `makes a cycle: ${cycle.join(' → ')}; no order can satisfy it`);
    return fail();
  }
  return { file, targets };
}

export function readTargets(file: string, via: string): TargetsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new UpkitError({
      code: 'targets.missing',
      exit: 'usage',
      message:
        code === 'ENOENT'
          ? `no targets file: ${file} does not exist (looked in ${via})`
          : `the targets file ${file} cannot be read (${code})`,
      hint:
        code === 'ENOENT'
          ? `write ${TARGETS_FILE} (docs/targets.md has an example), or pass --targets PATH`
          : `check the permissions of ${shellQuote(file)}`,
    });
  }
  return parseTargets(text, file);
}
