// Names upkit did not choose (tables, columns, roles, what an endpoint answers) are printed
// for the medium they land in: on the terminal and in the log, no character that moves the
// cursor, ends the line or changes the colours reaches it raw (each is shown as \uXXXX, so
// that a table name holding a newline cannot forge a line); in Markdown, the characters
// that would make markup are escaped too. JSON needs neither: JSON.stringify escapes.

// C0 and C1 controls, DEL, and the invisible characters that reorder or hide text (bidi
// embeddings and isolates, zero-width marks, the line and paragraph separators).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this escapes
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** One line, every control or invisible character shown as `\uXXXX`. */
export function visible(text: string): string {
  return text.replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * For Markdown prose (a list item, a table cell): visible(), then the characters that make
 * inline markup escaped. Nothing can start a line (visible() leaves none), so block markup
 * (`#`, `-`, `1.`) needs no escape.
 */
export function markdownText(text: string): string {
  return (
    visible(text)
      .replace(/[\\`*[\]<>|~&]/g, (ch) => (ch === '&' ? '&amp;' : `\\${ch}`))
      // `_` inside a word (config_management) makes no emphasis: left readable.
      .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\_')
  );
}

/** A Markdown code span: visible(), and delimited by more backticks than it holds in a row. */
export function markdownCode(text: string): string {
  const t = visible(text);
  const longest = Math.max(0, ...[...t.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = t.startsWith('`') || t.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${t}${pad}${fence}`;
}
