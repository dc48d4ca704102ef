// One HTTP request to a health endpoint, and what a person needs to read of its answer: the
// status and the first 200 characters of the body, or why there was no answer. URLs are
// shown without credentials or query string, either of which may hold a token.
import { redact, registerSecret } from '../redact.ts';

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
  /** Why there was no answer (connection refused, timeout…). */
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
    registerSecret(password);
    registerSecret(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
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

/** One request; never throws except when `signal` aborts. */
export async function probe(ep: Endpoint, timeoutMs: number, signal?: AbortSignal): Promise<Attempt> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(ep.url, { headers: ep.headers, redirect: 'follow', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    const body = await readSome(res).catch(() => '');
    return { status: res.status, statusText: res.statusText, body: bodySnippet(body), error: undefined, ms: ms() };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    return { status: undefined, statusText: '', body: '', error: describeFetchError(err, timeoutMs), ms: ms() };
  }
}

/** `500 Internal Server Error "boom"` or `connection refused (ECONNREFUSED)`. */
export function describeAttempt(a: Attempt | null): string {
  if (!a) return 'not tried';
  if (a.status === undefined) return a.error ?? 'no answer';
  return `${a.status}${a.statusText ? ` ${a.statusText}` : ''}${a.body ? ` ${JSON.stringify(a.body)}` : ' (empty body)'}`;
}
