// Compares SQL expressions by meaning rather than spelling, using PostgreSQL's own parser
// (libpg-query). drizzle-kit writes `lower("email")` and `"t"."format" in ('a', 'b')`; the
// catalog prints `lower((email)::text)` and `((format)::text = ANY ((ARRAY['a'::character
// varying, 'b'::character varying])::text[]))`. Both parse to the same tree once casts,
// table qualifiers, parentheses (absent from trees anyway) and `= ANY (ARRAY[...])` versus
// `IN (...)` are set aside. Casts only ever coerce to the column's own type here, and that
// type is compared on its own, so ignoring them hides nothing verification cares about.
import { loadModule, parseSync } from 'libpg-query';
import { sameDefaultText } from './sqlText.ts';

type Node = unknown;

let loading: Promise<void> | undefined;

/** Loads the parser (WebAssembly, ~50 ms); call early, await before comparing. */
export function loadExpressionParser(): Promise<void> {
  loading ??= loadModule();
  return loading;
}

let loaded = false;

export async function expressionParserReady(): Promise<void> {
  await loadExpressionParser();
  loaded = true;
}

function constValue(c: Record<string, unknown>): Node {
  // libpg-query leaves out zero values: `{ ival: {} }` is 0, `{ boolval: {} }` is false.
  if (c.isnull) return { const: null };
  if ('ival' in c) return { const: String((c.ival as { ival?: number }).ival ?? 0) };
  if ('fval' in c) return { const: String((c.fval as { fval?: string }).fval ?? '0') };
  if ('boolval' in c) return { const: String((c.boolval as { boolval?: boolean }).boolval ?? false) };
  if ('bsval' in c) return { const: (c.bsval as { bsval?: string }).bsval ?? '' };
  const s = (c.sval as { sval?: string } | undefined)?.sval ?? '';
  // jsonb prints its own canonical text: '{"a":1}' and '{"a": 1}' are the same value.
  if (/^\s*[[{]/.test(s)) {
    try {
      return { json: canonicalJson(JSON.parse(s)) };
    } catch {
      // not JSON: an array literal such as '{a,b}'
    }
  }
  // '1' and 1 mean the same once coerced to the column's type.
  return { const: s };
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function names(list: unknown): string[] {
  return (Array.isArray(list) ? list : [])
    .map((n) => String((n as { String?: { sval?: string } }).String?.sval ?? ''))
    .filter((n) => n !== 'pg_catalog');
}

function unwrapCasts(node: Node): Node {
  let n = node as Record<string, { arg?: Node }>;
  while (n && typeof n === 'object' && 'TypeCast' in n) n = n.TypeCast!.arg as Record<string, { arg?: Node }>;
  return n;
}

/** The parse tree reduced to what carries meaning. Exported for the unit tests. */
export function normaliseTree(node: Node): Node {
  if (Array.isArray(node)) return node.map(normaliseTree);
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const kind = keys[0]!;
    const body = obj[kind] as Record<string, unknown>;
    switch (kind) {
      case 'TypeCast':
        return normaliseTree(body.arg);
      case 'ColumnRef': {
        const fields = (body.fields as unknown[]) ?? [];
        const last = fields.at(-1) as { String?: { sval?: string }; A_Star?: unknown };
        return { col: last?.String?.sval ?? '*' };
      }
      case 'A_Const':
        return constValue(body);
      case 'FuncCall':
        return {
          fn: names(body.funcname).join('.').toLowerCase(),
          args: normaliseTree(body.args ?? []),
          star: Boolean(body.agg_star),
          distinct: Boolean(body.agg_distinct),
        };
      case 'A_Expr': {
        const op = names(body.name).join('.');
        const right = unwrapCasts(body.rexpr) as Record<string, { elements?: unknown[]; items?: unknown[] }>;
        const listOf = (r: typeof right) => r?.A_ArrayExpr?.elements ?? r?.List?.items;
        if (
          (body.kind === 'AEXPR_OP_ANY' && op === '=') ||
          (body.kind === 'AEXPR_OP_ALL' && op === '<>') ||
          body.kind === 'AEXPR_IN'
        ) {
          const items = listOf(right);
          if (items)
            return {
              in: body.kind === 'AEXPR_IN' ? op : op === '=' ? '=' : '<>',
              left: normaliseTree(body.lexpr),
              items: normaliseTree(items),
            };
        }
        return { op, kind: body.kind, left: normaliseTree(body.lexpr), right: normaliseTree(body.rexpr) };
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys.sort()) if (k !== 'location') out[k] = normaliseTree(obj[k]);
  return out;
}

/** The normalised tree of one expression, or undefined when it does not parse. */
export function expressionTree(expr: string): Node | undefined {
  if (!loaded) throw new Error('expressionParserReady() must be awaited before comparing expressions');
  try {
    const parsed = parseSync(`SELECT ${expr}`) as {
      stmts: Array<{ stmt: { SelectStmt?: { targetList?: Array<{ ResTarget: { val: Node } }> } } }>;
    };
    const targets = parsed.stmts[0]?.stmt.SelectStmt?.targetList;
    if (parsed.stmts.length !== 1 || targets?.length !== 1) return undefined;
    return normaliseTree(targets[0]!.ResTarget.val);
  } catch {
    return undefined;
  }
}

const cache = new Map<string, string | undefined>();

function key(expr: string): string | undefined {
  if (!cache.has(expr)) {
    const tree = expressionTree(expr);
    cache.set(expr, tree === undefined ? undefined : JSON.stringify(tree));
  }
  return cache.get(expr);
}

/**
 * Drops `"table".` and `table.` qualifiers outside string literals: drizzle-kit qualifies
 * columns with their table in checks and predicates, the catalog does not, and without them
 * the same expression on a thousand tables is one text, parsed once.
 */
export function unqualify(expr: string, table: string): string {
  if (!expr.includes(table)) return expr;
  const quoted = `"${table}".`;
  const bare = `${table}.`;
  let out = '';
  let inLiteral = false;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i]!;
    if (ch === "'") inLiteral = !inLiteral;
    if (!inLiteral) {
      if (expr.startsWith(quoted, i)) {
        i += quoted.length - 1;
        continue;
      }
      if (expr.startsWith(bare, i) && (i === 0 || !/[\w$"]/.test(expr[i - 1]!))) {
        i += bare.length - 1;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

const verdicts = new Map<string, boolean>();

/** True when two expressions mean the same; texts equal after cheap normalisation never reach the parser. */
export function sameExpression(expected: string, actual: string, table?: string): boolean {
  if (expected === actual) return true;
  const e = table ? unqualify(expected, table) : expected;
  const a = table ? unqualify(actual, table) : actual;
  // Thousands of tables share a few defaults and predicates: each pair is judged once.
  const pair = `${e}\u0000${a}`;
  let same = verdicts.get(pair);
  if (same === undefined) {
    same = sameDefaultText(e, a) || (key(e) !== undefined && key(e) === key(a));
    verdicts.set(pair, same);
  }
  return same;
}

/** A column name as an index column: `"Email"` and `Email` are the same column. */
export function sameColumnName(expected: string, actual: string): boolean {
  const unq = (s: string) => (/^".*"$/.test(s) ? s.slice(1, -1).replace(/""/g, '"') : s);
  return unq(expected) === unq(actual);
}
