// Renders a PostgreSQL error the way a person fixing it needs it: where (file:line:col and
// the line with a caret), what (SQLSTATE and message), and the server's detail and hint.

export interface PgErrorLike {
  message: string;
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

export function isPgError(err: unknown): err is PgErrorLike & Error {
  return (
    err instanceof Error &&
    typeof (err as PgErrorLike).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((err as PgErrorLike).code!)
  );
}

export interface SqlSource {
  /** The file the SQL came from, as a person would open it. */
  file?: string;
  /** The text that was sent to the server. */
  sql: string;
  /** Where `sql` starts inside the file (character offset), when it is one statement of many. */
  offset?: number;
  /** The whole file's text, when `sql` is a part of it. */
  fileText?: string;
}

export interface Location {
  line: number;
  column: number;
  lineText: string;
}

/** 1-based line and column of a 0-based character index in text. */
export function locate(text: string, index: number): Location {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', index);
  return { line, column: index - lineStart + 1, lineText: text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd) };
}

export function pgErrorLocation(err: PgErrorLike, source: SqlSource): Location | undefined {
  const pos = err.position ? Number(err.position) : NaN;
  if (!Number.isFinite(pos) || pos < 1) return undefined;
  // position counts characters of the query sent, from 1.
  const text = source.fileText ?? source.sql;
  return locate(text, (source.fileText ? (source.offset ?? 0) : 0) + pos - 1);
}

/** One headline plus indented detail lines. */
export function formatPgError(err: PgErrorLike, source?: SqlSource): { headline: string; details: string[] } {
  const loc = source ? pgErrorLocation(err, source) : undefined;
  const prefix = source?.file ? `${source.file}${loc ? `:${loc.line}:${loc.column}` : ''}: ` : '';
  const headline = `${prefix}ERROR ${err.code ?? ''}${err.code ? ': ' : ''}${err.message}`;
  const details: string[] = [];
  if (loc) {
    const gutter = `${loc.line} | `;
    details.push(`${gutter}${loc.lineText}`);
    // Keep tabs so the caret lines up with what the terminal shows above it.
    details.push(`${' '.repeat(gutter.length)}${loc.lineText.slice(0, loc.column - 1).replace(/[^\t]/g, ' ')}^`);
  }
  if (err.detail) details.push(`DETAIL: ${err.detail}`);
  if (err.hint) details.push(`HINT: ${err.hint}`);
  if (err.where) details.push(`CONTEXT: ${err.where}`);
  return { headline, details };
}
