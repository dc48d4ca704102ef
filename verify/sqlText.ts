// Text-level normalisation of what drizzle-kit writes into a snapshot and what the catalog
// prints: type names (`varchar(255)` is `character varying(255)`), defaults (`'member'` is
// `'member'::character varying`). Cheap and synchronous; expressions that still differ
// after it are compared on their parse trees (sqlExpression.ts).
import type { TypeRef } from './model.ts';

const SIMPLE: Record<string, string> = {
  int: 'integer',
  int4: 'integer',
  integer: 'integer',
  serial: 'integer',
  serial4: 'integer',
  int2: 'smallint',
  smallint: 'smallint',
  smallserial: 'smallint',
  serial2: 'smallint',
  int8: 'bigint',
  bigint: 'bigint',
  bigserial: 'bigint',
  serial8: 'bigint',
  float4: 'real',
  real: 'real',
  float8: 'double precision',
  float: 'double precision',
  'double precision': 'double precision',
  bool: 'boolean',
  boolean: 'boolean',
  varchar: 'character varying',
  'character varying': 'character varying',
  char: 'character(1)',
  character: 'character(1)',
  bpchar: 'character',
  varbit: 'bit varying',
  'bit varying': 'bit varying',
  bit: 'bit(1)',
  decimal: 'numeric',
  numeric: 'numeric',
  timestamptz: 'timestamp with time zone',
  timetz: 'time with time zone',
};

// Every type PostgreSQL spells itself in pg_catalog; anything else is a user or extension type.
const BUILTIN = new RegExp(
  '^(text|uuid|json|jsonb|date|interval.*|bytea|inet|cidr|macaddr8?|money|point|line|lseg|' +
    'box|path|polygon|circle|xml|tsvector|tsquery|oid|name|int4range|int8range|numrange|' +
    'tsrange|tstzrange|daterange|int4multirange|int8multirange|nummultirange|tsmultirange|' +
    'tstzmultirange|datemultirange|pg_lsn|txid_snapshot|pg_snapshot|regclass|regtype|regproc)$',
);

export const SERIAL_TYPES = new Set(['serial', 'serial4', 'smallserial', 'serial2', 'bigserial', 'serial8']);

function unquote(s: string): string {
  return s.replace(/"([^"]*)"/g, '$1');
}

/** The catalog's spelling of a builtin type name, or undefined when it is not a builtin. */
export function builtinType(raw: string): string | undefined {
  const s = raw
    .trim()
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/\s*\(\s*/g, '(')
    .replace(/\s*,\s*/g, ',')
    .replace(/\s*\)/g, ')');
  if (SIMPLE[s]) return SIMPLE[s];
  let m = /^(?:varchar|character varying)\((\d+)\)$/.exec(s);
  if (m) return `character varying(${m[1]})`;
  m = /^(?:char|character|bpchar)\((\d+)\)$/.exec(s);
  if (m) return `character(${m[1]})`;
  m = /^(?:varbit|bit varying)\((\d+)\)$/.exec(s);
  if (m) return `bit varying(${m[1]})`;
  m = /^bit\((\d+)\)$/.exec(s);
  if (m) return `bit(${m[1]})`;
  m = /^(?:numeric|decimal)\((\d+)(?:,(\d+))?\)$/.exec(s);
  if (m) return `numeric(${m[1]},${m[2] ?? '0'})`;
  m = /^(timestamp|time)(\(\d+\))?( with time zone| without time zone)?$/.exec(s);
  if (m) return `${m[1]}${m[2] ?? ''}${m[3] ?? ' without time zone'}`;
  m = /^(timestamptz|timetz)(\(\d+\))?$/.exec(s);
  if (m) return `${m[1] === 'timestamptz' ? 'timestamp' : 'time'}${m[2] ?? ''} with time zone`;
  m = /^(float)\((\d+)\)$/.exec(s);
  if (m) return Number(m[2]) <= 24 ? 'real' : 'double precision';
  if (BUILTIN.test(s)) return s;
  return undefined;
}

// A schema of thousands of tables has a handful of distinct types: each is worked out once.
const snapshotTypes = new Map<string, TypeRef>();
const catalogTypes = new Map<string, TypeRef>();

/** A snapshot's `type` (+ `typeSchema`) as a TypeRef comparable with the catalog's (shared: do not modify it). */
export function snapshotType(type: string, typeSchema?: string): Readonly<TypeRef> {
  const key = `${typeSchema ?? ''}\u0000${type}`;
  let ref = snapshotTypes.get(key);
  if (!ref) {
    ref = parseSnapshotType(type, typeSchema);
    snapshotTypes.set(key, Object.freeze(ref));
  }
  return ref;
}

function parseSnapshotType(type: string, typeSchema?: string): TypeRef {
  const m = /^(.*?)((?:\s*\[\s*\d*\s*\])+)$/.exec(type.trim());
  const base = m ? m[1]! : type.trim();
  const array = m ? '[]' : '';
  const builtin = builtinType(base);
  if (builtin) return { name: `${builtin}${array}` };
  const parts = unquote(base).split('.');
  const name = `${parts.at(-1)!}${array}`;
  const schema = typeSchema ?? (parts.length > 1 ? parts[0] : undefined);
  return schema ? { name, schema } : { name };
}

/** The catalog's type: format_type() output and the namespace of the (element) type (shared: do not modify it). */
export function catalogType(formatted: string, namespace: string): Readonly<TypeRef> {
  const key = `${namespace}\u0000${formatted}`;
  let ref = catalogTypes.get(key);
  if (!ref) {
    if (namespace === 'pg_catalog') {
      ref = Object.freeze({ name: formatted });
      catalogTypes.set(key, ref);
      return ref;
    }
    const array = formatted.endsWith('[]') ? '[]' : '';
    const base = unquote(formatted.slice(0, formatted.length - array.length));
    // format_type qualifies a type that is not on the search path: "audit".level
    const name = base.startsWith(`${namespace}.`) ? base.slice(namespace.length + 1) : base;
    ref = Object.freeze({ name: `${name}${array}`, schema: namespace });
    catalogTypes.set(key, ref);
  }
  return ref;
}

export function sameType(expected: TypeRef, actual: TypeRef): boolean {
  if (expected.name !== actual.name) return false;
  return expected.schema === undefined || actual.schema === undefined || expected.schema === actual.schema;
}

export function showType(t: TypeRef): string {
  return t.schema && t.schema !== 'public' ? `${t.schema}.${t.name}` : t.name;
}

const TYPE_WORD = String.raw`(?:"[^"]+"|[a-z_][\w$]*)`;
const TRAILING_CAST = new RegExp(
  String.raw`::${TYPE_WORD}(?:\.${TYPE_WORD})?(?: varying| precision| with(?:out)? time zone)?` +
    String.raw`(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*$`,
  'i',
);

/** Drops casts at the end of an expression: `'member'::character varying` → `'member'`. */
export function stripTrailingCasts(expr: string): string {
  let s = expr.trim();
  for (;;) {
    const next = s.replace(TRAILING_CAST, '').trim();
    if (next === s) return s;
    s = next;
    // `('x'::text)::varchar` leaves a wrapping pair of parentheses
    if (/^\(.*\)$/s.test(s) && balanced(s.slice(1, -1))) s = s.slice(1, -1).trim();
  }
}

function balanced(s: string): boolean {
  let depth = 0;
  let quote = false;
  for (const ch of s) {
    if (ch === "'") quote = !quote;
    if (quote) continue;
    if (ch === '(') depth++;
    if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/** A snapshot default (string, number or boolean) as SQL text. */
export function snapshotDefault(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return String(value);
}

/** The cheap comparison: equal after casts at the end and whitespace are ignored. */
export function sameDefaultText(expected: string, actual: string): boolean {
  const norm = (s: string) => stripTrailingCasts(s).replace(/\s+/g, ' ');
  return norm(expected) === norm(actual);
}

/** Quotes an identifier for a SQL hint, only where PostgreSQL needs it. */
const RESERVED = new Set([
  'all',
  'analyse',
  'analyze',
  'and',
  'any',
  'array',
  'as',
  'asc',
  'check',
  'collate',
  'column',
  'constraint',
  'create',
  'current_user',
  'default',
  'desc',
  'distinct',
  'do',
  'else',
  'end',
  'for',
  'foreign',
  'from',
  'grant',
  'group',
  'having',
  'in',
  'into',
  'limit',
  'not',
  'null',
  'offset',
  'on',
  'only',
  'or',
  'order',
  'primary',
  'references',
  'select',
  'table',
  'then',
  'to',
  'union',
  'unique',
  'user',
  'using',
  'when',
  'where',
  'with',
]);

export function ident(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function tableRef(schema: string, name: string): string {
  return schema === 'public' ? ident(name) : `${ident(schema)}.${ident(name)}`;
}
