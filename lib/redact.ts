// Every string that leaves the process (terminal, log file, JSON report, error text) goes
// through redact(). It removes passwords in connection URLs (raw or percent-encoded),
// PGPASSWORD-style assignments, and every secret registered by configuration loading.

const MASK = '***';
const secrets = new Set<string>();

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

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
}

// scheme://user:password@host — the password runs to the last '@' of the token so that an
// unencoded '@' inside it is covered too.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)(\S*)@/gi;
const ASSIGNMENT = /\b(PGPASSWORD|DB_PASSWORD|POSTGRES_PASSWORD|[A-Z_]*SECRET[A-Z_]*|[A-Z_]*_TOKEN|password)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"']+)/gi;

export function redact(text: string): string {
  let out = text
    // The placeholder in our own usage hints is not a secret.
    .replace(URL_PASSWORD, (_m, head: string, pw: string) => `${head}${pw === 'PASSWORD' ? pw : MASK}@`)
    .replace(ASSIGNMENT, `$1$2${MASK}`);
  if (secrets.size > 0) {
    // Longest first, so a secret that contains another is masked whole.
    for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
      if (out.includes(s)) out = out.split(s).join(MASK);
    }
  }
  return out;
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
