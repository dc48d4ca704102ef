// One HTTP request to a health endpoint, and what a person needs to read of its answer: the
// status and the first 200 characters of the body, or why there was no answer. URLs are
// shown without credentials or query string, either of which may hold a token.
import { visible } from '../escape.ts';
import { redact, registerSentCredentials } from '../redact.ts';

export const BODY_CHARS = 200;
/** Enough of a body for its first 200 characters; the rest is not read. */
const BODY_BYTES = 4096;

export interface Endpoint {
  /** As shown: scheme, host, path, `?…` when there was a query. */
  shown: string;
  url: URL;
  headers: Record<string, string>;
}

export interface Attempt {
  /** HTTP status; undefined when no answer came. */
  status: number | undefined;
  statusText: string;
  /** First 200 characters, whitespace collapsed, redacted. */
  body: string;
  /**
   * Why there was no answer (connection refused, timeout…), or why the answer is not the endpoint's (a redirect loop).
   */
  error: string | undefined;
  ms: number;
}

export function displayUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** fetch() refuses URLs with credentials: they are sent as Basic authentication instead. */
export function endpoint(raw: string): Endpoint {
  const url = new URL(raw);
  const headers: Record<string, string> = { accept: 'application/json, text/plain, */*' };
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    const basic = Buffer.from(`${user}:${password}`).toString('base64');
    // Registered as the request is made: an endpoint that echoes its request back (the
    // header, the user name used as a token) is masked in every place it is printed.
    registerSentCredentials({ user, password, basic });
    registerSentCredentials({ password: url.password, user: url.username });
    headers.authorization = `Basic ${basic}`;
    url.username = '';
    url.password = '';
  }
  return { shown: displayUrl(raw), url, headers };
}

async function readSome(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function bodySnippet(text: string): string {
  return redact(text.replace(/\s+/g, ' ').trim()).slice(0, BODY_CHARS);
}

const ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
};

export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const code = e.cause?.code;
  if (code) return `${ERRORS[code] ?? e.cause?.message ?? 'request failed'} (${code})`;
  return redact(e.cause?.message ?? e.message ?? String(err));
}

/** Redirects followed before the chain is reported as too long (fetch's own limit). */
export const MAX_REDIRECTS = 20;

/**
 * One request, redirects followed by hand so that a loop is reported as one (with its
 * chain) rather than as a failure to connect; never throws except when `signal` aborts.
 * Credentials go to the endpoint's own origin only, as fetch does.
 */
export async function probe(ep: Endpoint, timeoutMs: number, signal?: AbortSignal): Promise<Attempt> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const timeout = AbortSignal.timeout(timeoutMs);
  const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let url = ep.url;
  const chain: URL[] = [];
  try {
    for (;;) {
      const headers = url.origin === ep.url.origin ? ep.headers : { accept: ep.headers.accept! };
      const res = await fetch(url, { headers, redirect: 'manual', signal: both });
      const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
      if (location !== null) {
        await res.body?.cancel().catch(() => {});
        chain.push(url);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          return answered(res, '', ms(), `redirect to an invalid URL ${JSON.stringify(redact(location))}`);
        }
        const loop = chain.some((u) => u.href === next.href);
        if (loop || chain.length >= MAX_REDIRECTS) {
          const shown = [...chain, next].map((u) => displayUrl(u.href)).join(' → ');
          return answered(
            res,
            '',
            ms(),
            `${loop ? 'redirect loop' : `more than ${MAX_REDIRECTS} redirects`}: ${shown}`,
          );
        }
        url = next;
        continue;
      }
      const body = await readSome(res).catch(() => '');
      return answered(res, body, ms(), undefined);
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    return { status: undefined, statusText: '', body: '', error: describeFetchError(err, timeoutMs), ms: ms() };
  }
}

function answered(res: Response, body: string, ms: number, error: string | undefined): Attempt {
  // The reason phrase is the endpoint's text as much as the body is.
  return {
    status: res.status,
    statusText: visible(redact(res.statusText.replace(/\s+/g, ' '))),
    body: bodySnippet(body),
    error,
    ms,
  };
}

/** `500 Internal Server Error "boom"` or `connection refused (ECONNREFUSED)`. */
export function describeAttempt(a: Attempt | null): string {
  if (!a) return 'not tried';
  if (a.status === undefined) return a.error ?? 'no answer';
  if (a.error) return `${a.status}${a.statusText ? ` ${a.statusText}` : ''}: ${a.error}`;
  return (
    `${a.status}${a.statusText ? ` ${a.statusText}` : ''}` +
    `${a.body ? ` ${visible(JSON.stringify(a.body))}` : ' (empty body)'}`
  );
}
