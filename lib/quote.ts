// Quoting for what upkit prints for a person to paste: shell words and SQL identifiers and
// literals. Every hint that names a path, a database, a role or any other identifier goes
// through these, so that it works when pasted whatever the name holds.

/** A shell word: left bare when it holds only characters no shell treats specially. */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[\w@%+=:,./-]+$/.test(arg)) return arg;
  if (!arg.includes("'")) return `'${arg}'`;
  if (!/["$`\\!]/.test(arg)) return `"${arg}"`;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A SQL identifier, always double-quoted: a name that needs no quotes is still right with them. */
export function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal. */
export function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
