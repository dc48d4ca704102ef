// What the pending run has done so far to the objects it names, statement by statement, so
// that the lint (lib/lint.ts) can tell data that exists when the plan is made from objects
// the run itself made: tables, columns, types and schemas made by an earlier pending step,
// followed through renames and moves, dropped, made again. Unqualified names are resolved as
// PostgreSQL resolves them under the search_path the sessions pin (one schema for Pulse, any
// list for an app): a name is found in the first schema of the path that exists and holds it,
// and is created in the first schema of the path that exists.

/** What the database held when the plan was made; every member optional (unknown: taken to exist and hold rows). */
export interface LiveCatalog {
  /** Every relation (table, view, index, sequence, …) as `schema.name`. */
  relations: ReadonlySet<string>;
  /** The tables among them (plain, partitioned, foreign): what holds rows. */
  tables: ReadonlySet<string>;
  /** Every type as `schema.name`. */
  types: ReadonlySet<string>;
  schemas: ReadonlySet<string>;
  /**
   * Whether any table (not upkit's or drizzle's ledgers, nor an extension's own) holds a row, or may (not readable).
   */
  holdsData: boolean;
}

interface Relation {
  /** The live relation this name stands for; null when the run made it. */
  origin: string | null;
  /** Columns the run added to it (new, whatever the rows of the table). */
  added: Set<string>;
}

/** A name as the parse tree gives it: schema only when qualified. */
export interface Named {
  schema?: string | undefined;
  name: string;
}

export class RunState {
  private readonly relations = new Map<string, Relation>();
  /** Names the run dropped, renamed or moved away: nothing is there until the run makes it again. */
  private readonly goneRelations = new Set<string>();
  private readonly types = new Map<string, string | null>();
  private readonly goneTypes = new Set<string>();
  private readonly schemas = new Map<string, string | null>();
  private readonly goneSchemas = new Set<string>();
  /** Bodies of DO blocks and functions run so far: opaque, they may move live tables. */
  private readonly opaque: string[] = [];
  /** Columns holding pre-existing data retyped by the run to a type (DROP TYPE … CASCADE drops them). */
  private readonly retypedTo = new Map<string, string[]>();

  /**
   * `searchPath`: the schemas the sessions' search_path lists, in order ("$user" already read
   * as the role's name); one that does not exist is skipped, as PostgreSQL skips it, until the
   * run makes it.
   */
  private readonly searchPath: readonly string[];
  private readonly live: LiveCatalog | undefined;
  private readonly tableHasRows: (table: string) => boolean | undefined;

  constructor(
    searchPath: readonly string[],
    live: LiveCatalog | undefined,
    tableHasRows: (table: string) => boolean | undefined,
  ) {
    this.searchPath = searchPath;
    this.live = live;
    this.tableHasRows = tableHasRows;
  }

  /** No table holds a row that existed before the run: nothing it does can destroy data. */
  get nothingToLose(): boolean {
    return this.live !== undefined && !this.live.holdsData;
  }

  /**
   * The relation a name stands for: the first schema of the search_path that holds it (else where it would be made).
   */
  relationKey(n: Named, temporary = false): string {
    if (n.schema) return `${n.schema}.${n.name}`;
    // pg_temp comes first in every search_path for relations.
    if (temporary || this.relations.has(`pg_temp.${n.name}`)) return `pg_temp.${n.name}`;
    const holder = this.path().find((s) => this.exists(`${s}.${n.name}`));
    return `${holder ?? this.creationSchema()}.${n.name}`;
  }

  /** Where CREATE puts a relation of that name: the first schema of the search_path that exists. */
  newRelationKey(n: Named, temporary = false): string {
    if (n.schema) return `${n.schema}.${n.name}`;
    if (temporary) return `pg_temp.${n.name}`;
    return `${this.creationSchema()}.${n.name}`;
  }

  typeKey(n: Named): string {
    if (n.schema) return `${n.schema}.${n.name}`;
    const holder = this.path().find((s) => this.typeExists(`${s}.${n.name}`));
    return `${holder ?? this.creationSchema()}.${n.name}`;
  }

  newTypeKey(n: Named): string {
    return n.schema ? `${n.schema}.${n.name}` : `${this.creationSchema()}.${n.name}`;
  }

  /** The schemas of the search_path that exist now (live and not dropped by the run, or made by it). */
  private path(): string[] {
    return this.searchPath.filter(
      (s) => this.schemas.has(s) || (!this.goneSchemas.has(s) && this.live?.schemas.has(s) !== false),
    );
  }

  private creationSchema(): string {
    return this.path()[0] ?? this.searchPath[0] ?? 'public';
  }

  /** Whether the relation holds no row that existed when the plan was made. */
  relationIsFree(key: string): boolean {
    if (this.nothingToLose) return true;
    const made = this.relations.get(key);
    if (made) return made.origin === null || this.tableHasRows(made.origin) === false;
    const found = this.find(key, this.goneRelations, this.live?.relations);
    return found === 'absent' || (found === 'live' && this.tableHasRows(key) === false);
  }

  /** Whether the column holds no value that existed when the plan was made. */
  columnIsFree(table: string, column: string): boolean {
    return this.relationIsFree(table) || this.relations.get(table)?.added.has(column) === true;
  }

  typeIsFree(key: string): boolean {
    if (this.nothingToLose) return true;
    if (this.types.has(key)) return this.types.get(key) === null;
    return this.find(key, this.goneTypes, this.live?.types) === 'absent';
  }

  schemaIsFree(name: string): boolean {
    if (this.nothingToLose) return true;
    if (this.schemas.has(name)) return this.schemas.get(name) === null;
    return this.find(name, this.goneSchemas, this.live?.schemas) === 'absent';
  }

  /** No table in the schema holds a row that existed when the plan was made (DROP SCHEMA … CASCADE). */
  schemaHoldsNoRows(schema: string): boolean {
    if (this.nothingToLose) return true;
    if (!this.live) return false;
    const prefix = `${schema}.`;
    const tables = new Set([...this.live.tables].filter((t) => t.startsWith(prefix) && !this.goneRelations.has(t)));
    for (const [key, state] of this.relations) if (key.startsWith(prefix) && state.origin !== null) tables.add(key);
    return [...tables].every((t) => this.relationIsFree(t));
  }

  /** A DROP TYPE … CASCADE would drop columns whose data existed: retyped to it by the run, or by an opaque body. */
  typeCarriesData(key: string): boolean {
    if (this.nothingToLose) return false;
    if ((this.retypedTo.get(key) ?? []).length > 0) return true;
    const name = key.slice(key.indexOf('.') + 1);
    return this.opaque.some((body) => mentions(body, name));
  }

  /**
   * Where a name the run has not made stands: `live` (or unknown), `absent` (the catalog does
   * not have it, or the run dropped it: a statement on it fails or does nothing), or `opaque`
   * when an earlier DO block or function that renames or moves things names it: PostgreSQL's
   * parser cannot see into them, so live data may be there now.
   */
  private find(
    key: string,
    gone: ReadonlySet<string>,
    live: ReadonlySet<string> | undefined,
  ): 'live' | 'absent' | 'opaque' {
    if (!gone.has(key) && (live === undefined || live.has(key))) return 'live';
    const name = key.slice(key.indexOf('.') + 1);
    return this.opaque.some((body) => MOVES.test(body) && mentions(body, name)) ? 'opaque' : 'absent';
  }

  // What each statement does to the state.

  makeRelation(key: string, ifNotExists: boolean): void {
    if (ifNotExists && this.exists(key)) return;
    this.relations.set(key, { origin: null, added: new Set() });
    this.goneRelations.delete(key);
  }

  dropRelation(key: string): void {
    this.relations.delete(key);
    this.goneRelations.add(key);
  }

  renameRelation(from: string, to: string): void {
    const state = this.relations.get(from) ?? { origin: from, added: new Set<string>() };
    this.dropRelation(from);
    this.relations.set(to, state);
    this.goneRelations.delete(to);
  }

  addColumn(table: string, column: string, ifNotExists: boolean): void {
    // IF NOT EXISTS on a table with rows: the column may be there already, with its data.
    if (ifNotExists && !this.relationIsFree(table)) return;
    this.touch(table).added.add(column);
  }

  dropColumn(table: string, column: string): void {
    this.relations.get(table)?.added.delete(column);
  }

  renameColumn(table: string, from: string, to: string): void {
    const added = this.relations.get(table)?.added;
    if (added?.delete(from)) added.add(to);
  }

  retypeColumn(table: string, column: string, type: string): void {
    if (this.columnIsFree(table, column)) return;
    this.retypedTo.set(type, [...(this.retypedTo.get(type) ?? []), `${table}.${column}`]);
  }

  makeType(key: string): void {
    this.types.set(key, null);
    this.goneTypes.delete(key);
  }

  dropType(key: string): void {
    this.types.delete(key);
    this.goneTypes.add(key);
  }

  renameType(from: string, to: string): void {
    const origin = this.types.has(from) ? this.types.get(from)! : from;
    this.dropType(from);
    this.types.set(to, origin);
    this.goneTypes.delete(to);
    const columns = this.retypedTo.get(from);
    if (columns) this.retypedTo.set(to, columns);
  }

  makeSchema(name: string, ifNotExists: boolean): void {
    if (
      ifNotExists &&
      (this.schemas.has(name) || (!this.goneSchemas.has(name) && this.live?.schemas.has(name) !== false))
    )
      return;
    this.schemas.set(name, null);
    this.goneSchemas.delete(name);
  }

  dropSchema(name: string): void {
    this.schemas.delete(name);
    this.goneSchemas.add(name);
    const prefix = `${name}.`;
    for (const key of [...this.relations.keys(), ...(this.live?.relations ?? [])])
      if (key.startsWith(prefix)) this.dropRelation(key);
    for (const key of [...this.types.keys(), ...(this.live?.types ?? [])])
      if (key.startsWith(prefix)) this.dropType(key);
  }

  /** ALTER SCHEMA a RENAME TO b: every relation and type in it moves along. */
  renameSchema(from: string, to: string): void {
    const origin = this.schemas.has(from) ? this.schemas.get(from)! : from;
    const prefix = `${from}.`;
    const relations = new Set([
      ...this.relations.keys(),
      ...[...(this.live?.relations ?? [])].filter((r) => !this.goneRelations.has(r)),
    ]);
    for (const key of relations)
      if (key.startsWith(prefix)) this.renameRelation(key, `${to}.${key.slice(prefix.length)}`);
    const types = new Set([
      ...this.types.keys(),
      ...[...(this.live?.types ?? [])].filter((t) => !this.goneTypes.has(t)),
    ]);
    for (const key of types) if (key.startsWith(prefix)) this.renameType(key, `${to}.${key.slice(prefix.length)}`);
    this.schemas.delete(from);
    this.goneSchemas.add(from);
    this.schemas.set(to, origin);
    this.goneSchemas.delete(to);
  }

  opaqueBody(sql: string): void {
    this.opaque.push(sql);
  }

  private exists(key: string): boolean {
    return this.relations.has(key) || (!this.goneRelations.has(key) && this.live?.relations.has(key) !== false);
  }

  private typeExists(key: string): boolean {
    return this.types.has(key) || (!this.goneTypes.has(key) && this.live?.types.has(key) !== false);
  }

  private touch(table: string): Relation {
    let state = this.relations.get(table);
    if (!state) {
      state = { origin: table, added: new Set() };
      this.relations.set(table, state);
      this.goneRelations.delete(table);
    }
    return state;
  }
}

const MOVES = /\b(rename|set\s+schema)\b/i;

/** Whether an opaque body names the object (as an identifier, quoted or not). */
function mentions(sql: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w$])("${escaped}"|${escaped})($|[^\\w$])`, 'i').test(sql);
}
