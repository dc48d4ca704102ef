// Every string that leaves the process (terminal, log file, JSON report, error text) goes
// through redact(), which also writes its commands to paste as the process was started
// (lib/invocation.ts). A password is masked where it stands as a password, whatever its value:
// in connection URLs (raw or percent-encoded), PGPASSWORD-style assignments and JSON keys,
// and pass-file lines. Every secret registered by configuration loading is masked anywhere
// else too (a password pasted into the wrong key, a driver's error text), except inside the
// names and paths upkit was given (registerPublic): a password `pulse` must not turn the
// database `pulse`, the user `pulse_admin` or BACKUP_DIR `/srv/pulse backups` into `***`.
import { pasteForm } from './invocation.ts';

const MASK = '***';
const secrets = new Set<string>();
const publics = new Set<string>();

/** Secrets shorter than this are not masked: they would shred ordinary words. */
const MIN_SECRET_LENGTH = 4;

function variants(secret: string): string[] {
  const encoded = encodeURIComponent(secret);
  return [
    secret,
    encoded,
    encoded.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    encodeURIComponent(secret).replace(/%20/g, '+'),
    encodeURI(secret),
    JSON.stringify(secret).slice(1, -1),
  ];
}

export function registerSecret(secret: string | undefined | null): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH) return;
  for (const v of variants(secret)) if (v.length >= MIN_SECRET_LENGTH) secrets.add(v);
}

/**
 * The credentials written into a URL-ish setting, with or without a scheme
 * (`admin:s3cret@host/health`, `//token@host`, `https://u:p@host`): the password, its
 * decoded form, and (userIsToken: an HTTP endpoint, not a database role) the user name when
 * it stands alone, as a token used as the user name is.
 * Registered before the setting is validated, so that an error quoting it is masked too.
 */
export function registerUrlCredentials(raw: string | undefined | null, options: { userIsToken?: boolean } = {}): void {
  if (!raw) return;
  const value = raw
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/^\/\//, '')
    .replace(/[?#].*$/s, '');
  const at = value.lastIndexOf('@');
  if (at <= 0) return;
  const userinfo = value.slice(0, at);
  const colon = userinfo.indexOf(':');
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (colon === -1) {
    if (!options.userIsToken) return;
    registerSecret(userinfo);
    registerSecret(decode(userinfo));
    return;
  }
  const user = userinfo.slice(0, colon);
  const password = userinfo.slice(colon + 1);
  registerSecret(password);
  registerSecret(decode(password));
  if (password === '' && options.userIsToken) {
    registerSecret(user);
    registerSecret(decode(user));
  }
}

/**
 * What upkit sends as HTTP authentication, in every encoding it is sent in: the user and
 * password (raw and percent-encoded, through registerSecret), `base64(user:password)` of a
 * Basic header, and a Bearer token. An endpoint echoing its request back is then masked.
 */
export function registerSentCredentials(sent: {
  user?: string;
  password?: string;
  basic?: string;
  bearer?: string;
}): void {
  if (sent.password) registerSecret(sent.password);
  // A user name without a password is a token.
  else if (sent.user) registerSecret(sent.user);
  if (sent.basic) {
    registerSecret(sent.basic);
    // base64url and unpadded forms, as an echo may re-encode it.
    registerSecret(sent.basic.replace(/=+$/, ''));
    registerSecret(sent.basic.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
  }
  if (sent.bearer) registerSecret(sent.bearer);
}

/**
 * A name or path that is not a secret even where it contains one: the database, user and
 * host upkit connects with, the folders and files it was given. A folder also covers the
 * file names printed under it.
 */
export function registerPublic(value: string | undefined | null): void {
  if (!value || value.length < 2 || value === '/' || value.includes('://')) return;
  publics.add(value);
}

/** For tests: forget every registered secret and public name. */
export function clearSecrets(): void {
  secrets.clear();
  publics.clear();
}

// scheme://user:password@host — the password runs to the last '@' of the token so that an
// unencoded '@' inside it is covered too.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)(\S*)@/gi;
// KEY=value, KEY: value, "key": "value", key='value'.
const ASSIGNMENT = new RegExp(
  String.raw`\b(PGPASSWORD|DB_PASSWORD|POSTGRES_PASSWORD|[A-Z_]*SECRET[A-Z_]*|[A-Z_]*_TOKEN|` +
    String.raw`password)(["']?\s*[=:]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&"'}]+)`,
  'gi',
);
// A pass-file line: host:port:database:user:password (`\:` and `\\` escaped in each field;
// no spaces before the password, so that prose with times in it is not taken for one).
const PASS_FILE_LINE = /^((?:[^:\\\s]|\\.)*:(?:\d+|\*):(?:(?:[^:\\\s]|\\.)*:){2})((?:[^\\\n]|\\.)+)$/gm;

/** Where the public names and paths stand in `text`: spans no literal secret is masked in. */
function publicSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const p of publics) {
    for (let i = text.indexOf(p); i !== -1; i = text.indexOf(p, i + 1)) {
      let end = i + p.length;
      // A folder covers what is printed under it, up to the end of that path.
      if (p.startsWith('/') && text[end] === '/') while (end < text.length && !/[\s'"`)]/.test(text[end]!)) end += 1;
      spans.push([i, end]);
    }
  }
  return spans;
}

function maskLiterals(text: string): string {
  if (secrets.size === 0) return text;
  const spans = publicSpans(text);
  const masked: Array<[number, number]> = [];
  // Longest first, so a secret that contains another is masked whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    for (let i = text.indexOf(s); i !== -1; i = text.indexOf(s, i + 1)) {
      const end = i + s.length;
      if (spans.some(([a, b]) => a <= i && end <= b)) continue;
      if (masked.some(([a, b]) => i < b && a < end)) continue;
      masked.push([i, end]);
    }
  }
  if (masked.length === 0) return text;
  masked.sort((x, y) => x[0] - y[0]);
  let out = '';
  let at = 0;
  for (const [a, b] of masked) {
    out += text.slice(at, a) + MASK;
    at = b;
  }
  return out + text.slice(at);
}

export function redact(text: string): string {
  // Commands to paste in the form this process was started with (lib/invocation.ts).
  const out = pasteForm(text)
    // The placeholder in our own usage hints is not a secret.
    .replace(URL_PASSWORD, (_m, head: string, pw: string) => `${head}${pw === 'PASSWORD' ? pw : MASK}@`)
    .replace(ASSIGNMENT, `$1$2${MASK}`)
    .replace(PASS_FILE_LINE, `$1${MASK}`);
  return maskLiterals(out);
}

/** Redacts every string inside a JSON-like value (for reports and manifests). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}

/**
 * Another session's SQL as upkit shows it (who holds a lock): its string and dollar-quoted
 * literals become '…', so that a value the application wrote (a token, an email) never lands
 * in a log, a report or a ticket; the statement's shape, what support needs, stays.
 */
export function maskSqlLiterals(sql: string): string {
  // E'…' strings take backslash escapes (E'it\'s'); the others double their quotes.
  return sql.replace(
    /\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$|[Ee]'(?:[^'\\]|\\[\s\S]|'')*'?|[BbXxNn]?'(?:[^']|'')*'?/g,
    "'…'",
  );
}
