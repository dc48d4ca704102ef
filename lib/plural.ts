// Every count a person reads goes through plural(): "1 statement", "2 statements", never
// "1 statements" or "2 statement(s)".

/** `n` and the word, in the singular for exactly one; `many` for irregular plurals (`entry` → `entries`). */
export function plural(n: number, word: string, many?: string): string {
  return `${n} ${n === 1 ? word : (many ?? pluralOf(word))}`;
}

/** The English plural of a word upkit counts: entries, matches, statuses; else an added s. */
function pluralOf(word: string): string {
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(word)) return `${word}es`;
  return `${word}s`;
}
