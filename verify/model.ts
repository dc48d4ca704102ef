// The shapes verification compares: what the code expects (from a drizzle snapshot) and
// what the catalog holds, both reduced to the same vocabulary so that comparing them is a
// pure function; and the findings it produces, each tied to an area of the report.
import type { Finding, Severity } from '../lib/report.ts';

export type Area = 'schema' | 'ledgers' | 'seed data' | 'runtime';
export const AREAS: readonly Area[] = ['schema', 'ledgers', 'seed data', 'runtime'];

export interface VerifyFinding extends Finding {
  area: Area;
}

export function finding(
  area: Area,
  severity: Severity,
  code: string,
  message: string,
  hint?: string | null,
): VerifyFinding {
  return { area, severity, code, message, hint: hint ?? null };
}

/** A column's type: builtins by their catalog spelling (`character varying(255)`), others by name and schema. */
export interface TypeRef {
  name: string;
  /** Set for types outside pg_catalog when known (enums, domains, extension types). */
  schema?: string;
}

export interface IdentitySpec {
  kind: 'always' | 'by default';
  start?: string;
  increment?: string;
  min?: string;
  max?: string;
  cache?: string;
  cycle?: boolean;
}

export interface ColumnSpec {
  name: string;
  type: TypeRef;
  notNull: boolean;
  /** The default as SQL text, undefined when there is none. */
  default?: string;
  identity?: IdentitySpec;
  /** Expression of a stored generated column. */
  generated?: string;
  /** serial/bigserial/smallserial: an integer whose default is nextval() of its own sequence. */
  serial?: boolean;
}

export interface IndexColumnSpec {
  /** A column name, or an expression when `isExpression`. */
  expression: string;
  isExpression: boolean;
  asc: boolean;
  nullsFirst: boolean;
  /** Operator class, only when the snapshot names one (catalog: always, with `default` set). */
  opclass?: string;
}

export interface IndexSpec {
  name: string;
  unique: boolean;
  method: string;
  columns: IndexColumnSpec[];
  where?: string;
  /** Storage parameters, `key=value`, sorted. */
  with: string[];
}

export type FkAction = 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';

export interface ForeignKeySpec {
  name: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
  onDelete: FkAction;
  onUpdate: FkAction;
}

export interface UniqueSpec {
  name: string;
  columns: string[];
  nullsNotDistinct: boolean;
}

export interface CheckSpec {
  name: string;
  expression: string;
}

export interface TableSpec {
  schema: string;
  name: string;
  columns: ColumnSpec[];
  primaryKey?: { name: string; columns: string[] };
  uniques: UniqueSpec[];
  foreignKeys: ForeignKeySpec[];
  indexes: IndexSpec[];
  checks: CheckSpec[];
  rls: boolean;
  policies: string[];
  /** Constraints the migrations themselves leave NOT VALID (known from a replay only). */
  notValidated?: string[];
}

export interface EnumSpec {
  schema: string;
  name: string;
  values: string[];
}

export interface SchemaSpec {
  /** Schemas whose objects are compared; extra tables are looked for in these only. */
  schemas: string[];
  tables: TableSpec[];
  enums: EnumSpec[];
  /** `schema.name` */
  sequences: string[];
  views: string[];
  /**
   * What only a replay of the migrations knows: their triggers (`schema.table.name`) and column collations
   * (`schema.table.column collation`).
   */
  knownTriggers?: string[];
  knownCollations?: string[];
}

/** What the database is compared with (verify/shadow.ts decides). */
export interface ExpectedSchema {
  /** undefined: the snapshot (parsed by the engine, whose problems are usage errors). */
  spec?: SchemaSpec;
  source: 'snapshot' | 'replay';
  /** Where it came from (an info line) and, for a replay, the snapshot's disagreement (a warning). */
  findings: VerifyFinding[];
}

/** The catalog's side: the same shapes plus what only a live database has. */
export interface ActualIndex extends IndexSpec {
  valid: boolean;
  primary: boolean;
  /** The constraint this index backs (primary key, unique, exclusion), if any. */
  constraint?: string;
  nullsNotDistinct: boolean;
}

export interface ActualTable extends Omit<TableSpec, 'indexes'> {
  indexes: ActualIndex[];
  partition: boolean;
  /** Constraints that are NOT VALID (added without checking existing rows). */
  notValidated: string[];
}

export interface ActualSchema extends Omit<SchemaSpec, 'tables'> {
  tables: ActualTable[];
  /** `table.policy` per schema-qualified table, `schema.name` for the rest. */
  policies: string[];
  /** Materialized views, `schema.name` (also in `views`). */
  matviews?: string[];
  /** Every trigger on a user table: internal ones back foreign keys; `enabled` is pg_trigger.tgenabled. */
  triggers?: ActualTrigger[];
  /** Columns whose collation is not their type's default. */
  collations?: Array<{ schema: string; table: string; column: string; collation: string; type: string }>;
}

export interface ActualTrigger {
  schema: string;
  table: string;
  name: string;
  enabled: string;
  internal: boolean;
  /** The constraint an internal trigger enforces. */
  constraint: string;
}

export interface SchemaFinding extends VerifyFinding {
  /** SQL that repairs the difference by hand, when there is an obvious one. */
  fix?: string;
}

export const KEPT_HINT =
  'nothing to do if it was added on purpose: upkit keeps objects it does not know and never drops them';

export function schemaFinding(
  severity: Severity,
  code: string,
  message: string,
  fix?: string,
  hint?: string,
): SchemaFinding {
  return { ...finding('schema', severity, code, message, hint ?? null), ...(fix ? { fix } : {}) };
}

export const qualified = (schema: string, name: string): string => (schema === 'public' ? name : `${schema}.${name}`);
