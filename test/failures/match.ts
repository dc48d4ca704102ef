// Messages in the catalogue are written with named placeholders ({host}, {port}, {file}):
// a test fills in every value it knows, and the few it cannot know in advance (a duration,
// a timestamp, a digest) match a fixed pattern. Nothing else is loose: the rest of the line
// must be exactly as written.

/** Placeholders a test may leave unfilled, and what they match. */
export const FREE: Readonly<Record<string, string>> = {
  ms: '\\d+',
  seconds: '\\d+',
  time: '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?Z',
  stamp: '\\d{8}T\\d{6}Z',
  size: '\\d+(?:\\.\\d)? (?:B|KB|MB|GB|TB)',
  sha256: '[0-9a-f]{64}',
};

export type Vars = Readonly<Record<string, string | number>>;

const PLACEHOLDER = /\{([a-zA-Z][a-zA-Z0-9]*)\}/g;

export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The template with every placeholder filled; throws when one has no value. */
export function fill(template: string, vars: Vars): string {
  return template.replace(PLACEHOLDER, (_whole, name: string) => {
    if (!(name in vars)) throw new Error(`no value for {${name}} in "${template}"`);
    return String(vars[name]);
  });
}

/** A regular expression matching exactly the template: filled values literally, free ones by their pattern. */
export function pattern(template: string, vars: Vars): RegExp {
  let source = '';
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    source += escapeRegExp(template.slice(last, m.index));
    const name = m[1]!;
    if (name in vars) source += escapeRegExp(String(vars[name]));
    else if (name in FREE) source += `(?:${FREE[name]})`;
    else
      throw new Error(
        `no value for {${name}} in "${template}" (and it is not one ` +
          `of the free placeholders ${Object.keys(FREE).join(', ')})`,
      );
    last = m.index! + m[0].length;
  }
  source += escapeRegExp(template.slice(last));
  return new RegExp(`^${source}$`);
}

export function matches(text: string, template: string, vars: Vars): boolean {
  return pattern(template, vars).test(text);
}
