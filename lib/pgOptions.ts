// The libpq `options` connection parameter (`?options=-c search_path=app` in a URL): command-line
// switches for the server session. upkit reads it as libpq and the server would, so that the
// schema it works in is the one the operator named, and builds its own from the result: every
// session it opens (node's client and pg_dump, pg_restore, psql through PGOPTIONS) starts with
// search_path pinned to the target schema, whatever the role's or database's defaults say.

export interface SessionOptions {
  /** `-c name=value` settings, names lower-cased with `-` read as `_` (as the server does). */
  settings: Map<string, string>;
  /** Switches that are not a setting (`-B 100`, `-d 5`): upkit does not pass those on. */
  unsupported: string[];
}

/** Splits as libpq does: on unescaped white space, a backslash taking the next character literally. */
function tokens(raw: string): string[] {
  const out: string[] = [];
  let current = '';
  let open = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && i + 1 < raw.length) {
      current += raw[++i];
      open = true;
    } else if (/\s/.test(ch)) {
      if (open) out.push(current);
      current = '';
      open = false;
    } else {
      current += ch;
      open = true;
    }
  }
  if (open) out.push(current);
  return out;
}

function setting(assignment: string, into: SessionOptions, original: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) {
    into.unsupported.push(original);
    return;
  }
  into.settings.set(assignment.slice(0, eq).trim().toLowerCase().replace(/-/g, '_'), assignment.slice(eq + 1));
}

/** Reads an `options` value: `-c a=b`, `-ca=b` and `--a=b` are settings; anything else is listed as unsupported. */
export function parseSessionOptions(raw: string): SessionOptions {
  const result: SessionOptions = { settings: new Map(), unsupported: [] };
  const list = tokens(raw);
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!;
    if (t === '-c') {
      const next = list[i + 1];
      if (next === undefined) result.unsupported.push(t);
      else setting(next, result, `${t} ${next}`);
      i++;
    } else if (t.startsWith('-c')) setting(t.slice(2), result, t);
    else if (t.startsWith('--')) setting(t.slice(2), result, t);
    else result.unsupported.push(t);
  }
  return result;
}

/** The schemas a search_path value lists, as the server reads it: unquoted names fold to lower case. */
export function searchPathSchemas(value: string): string[] {
  const names: string[] = [];
  let i = 0;
  while (i <= value.length) {
    while (i < value.length && /\s/.test(value[i]!)) i++;
    let name = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length) {
        if (value[i] === '"' && value[i + 1] === '"') {
          name += '"';
          i += 2;
        } else if (value[i] === '"') {
          i++;
          break;
        } else name += value[i++];
      }
      while (i < value.length && value[i] !== ',') i++;
    } else {
      while (i < value.length && value[i] !== ',') name += value[i++];
      name = name.trim().toLowerCase();
    }
    if (name) names.push(name);
    i++;
  }
  return names;
}

function escapeOption(value: string): string {
  return value.replace(/[\\\s]/g, (c) => `\\${c}`);
}

/** A schema name as search_path takes it: always quoted, so that any name means exactly itself. */
function quotedSchema(schema: string): string {
  return `"${schema.replace(/"/g, '""')}"`;
}

/** The `options` string upkit sends at startup: the operator's settings, then search_path pinned to `schema`. */
export function startupOptions(
  schema: string,
  settings: ReadonlyMap<string, string> | Readonly<Record<string, string>> = {},
): string {
  const entries = settings instanceof Map ? [...settings] : Object.entries(settings);
  return [...entries.filter(([name]) => name !== 'search_path'), ['search_path', quotedSchema(schema)] as const]
    .map(([name, value]) => `-c ${escapeOption(`${name}=${value}`)}`)
    .join(' ');
}

/**
 * The `options` for a target: an app's own search_path value as given (or none at all while it
 * is not known: the server's default for the role and database then applies, PGOPTIONS being
 * dropped), else search_path pinned to the one schema. Never empty: node's client would read
 * an inherited PGOPTIONS in its place.
 */
export function targetOptions(
  target: { schema?: string; searchPath?: string; app?: boolean; settings?: Readonly<Record<string, string>> },
  fallback: string,
): string {
  if (!target.app) return startupOptions(target.schema ?? fallback, target.settings);
  const entries = Object.entries(target.settings ?? {}).filter(([name]) => name !== 'search_path');
  if (target.searchPath !== undefined) entries.push(['search_path', target.searchPath]);
  return entries.map(([name, value]) => `-c ${escapeOption(`${name}=${value}`)}`).join(' ') || ' ';
}
