// What a repeatable file defines, read from its parse trees (libpg-query), and which of those
// objects the database no longer has: a view, materialized view, function or procedure,
// policy or trigger dropped since, row level security switched off, a grant revoked. Statements
// of other kinds (and the bodies of DO blocks, opaque to the parser) are not checked.
import type { Client } from 'pg';
import { qualifiedNames, stringsOf, type AstNode, type ParsedStatement } from '../sql/statements.ts';

type Q = Pick<Client, 'query'>;

/** One object a file's statements leave behind, with the read-only query that finds it. */
export interface DefinedObject {
  /** How a person reads it: `view public.active_users`, `SELECT on public.users to pulse_support`. */
  what: string;
  /** Identity, so that a later DROP in the same file removes it. */
  key: string;
  /** A query returning one row with a boolean `ok`. */
  sql: string;
  params: unknown[];
}

interface Rel {
  schema: string | null;
  name: string;
}

const shown = (r: Rel) => (r.schema ? `${r.schema}.${r.name}` : r.name);
/** Text for to_regclass: each part quoted, so that the name is found as written. */
const regText = (r: Rel) => (r.schema ? `${quote(r.schema)}.${quote(r.name)}` : quote(r.name));
const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
const relOf = (n: unknown): Rel => {
  const r = (n ?? {}) as AstNode;
  return { schema: typeof r.schemaname === 'string' ? r.schemaname : null, name: String(r.relname) };
};
const partsRel = (parts: string[]): Rel =>
  parts.length > 1 ? { schema: parts.at(-2)!, name: parts.at(-1)! } : { schema: null, name: parts[0]! };

// A relation of a kind (unqualified names as this session's search_path finds them).
const relationExists = (r: Rel, kinds: string, what: string): DefinedObject => ({
  what: `${what} ${shown(r)}`,
  key: `relation:${shown(r)}`,
  sql: `select exists (select 1 from pg_class where oid = to_regclass($1) and relkind = any($2::"char"[])) as ok`,
  params: [regText(r), kinds.split('')],
});

function functionObject(n: AstNode): DefinedObject {
  const parts = stringsOf(n.funcname);
  const f = partsRel(parts);
  const inputs = ((n.parameters as AstNode[] | undefined) ?? []).filter(
    (p) =>
      ((p.FunctionParameter as AstNode | undefined)?.mode ?? 'FUNC_PARAM_DEFAULT') !== 'FUNC_PARAM_OUT' &&
      (p.FunctionParameter as AstNode | undefined)?.mode !== 'FUNC_PARAM_TABLE',
  ).length;
  return {
    what:
      `${n.is_procedure === true ? 'procedure' : 'function'} ${shown(f)}` +
      ` (${inputs} argument${inputs === 1 ? '' : 's'})`,
    key: `function:${shown(f)}:${inputs}`,
    sql:
      `select exists (select 1 from pg_proc where proname = $1 and pronargs = $3 and pronamespace ` +
      `= coalesce(to_regnamespace($2), to_regnamespace(quote_ident(current_schema())))) as ok`,
    params: [f.name, f.schema === null ? null : quote(f.schema), inputs],
  };
}

// Privileges as has_*_privilege and aclexplode name them; ALL means each of the object's kind.
const ALL: Record<string, string[]> = {
  table: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'],
  sequence: ['USAGE', 'SELECT', 'UPDATE'],
  schema: ['USAGE', 'CREATE'],
  database: ['CREATE', 'CONNECT', 'TEMPORARY'],
};

/** The grantee as the query below takes it: `public`, `current` (the session's role), or `role:NAME`. */
function granteeSql(spec: AstNode): { text: string; shown: string } | null {
  switch (spec.roletype) {
    case 'ROLESPEC_PUBLIC':
      return { text: 'public', shown: 'PUBLIC' };
    case 'ROLESPEC_CSTRING':
      return { text: `role:${String(spec.rolename)}`, shown: String(spec.rolename) };
    case 'ROLESPEC_CURRENT_USER':
    case 'ROLESPEC_CURRENT_ROLE':
      return { text: 'current', shown: 'CURRENT_USER' };
    default:
      return null;
  }
}

// One row per (object, grantee, privilege): the ACL as PostgreSQL keeps it (the owner's default when none is stored).
const ACL_HOLDS =
  `exists (select 1 from aclexplode(coalesce(acl, acldefault(kind, owner))) a
  where a.privilege_type = $3 and a.grantee = case $2 when 'public' then 0::oid when 'current' then (select oid ` +
  `from pg_roles where rolname = current_user) else (select oid from pg_roles where rolname = substr($2, 6)) end)`;

function grantObjects(n: AstNode): DefinedObject[] {
  if (n.is_grant !== true) return [];
  const objtype = String(n.objtype);
  const kind =
    objtype === 'OBJECT_TABLE'
      ? 'table'
      : objtype === 'OBJECT_SEQUENCE'
        ? 'sequence'
        : objtype === 'OBJECT_SCHEMA'
          ? 'schema'
          : objtype === 'OBJECT_DATABASE'
            ? 'database'
            : null;
  if (!kind) return [];
  const privs = ((n.privileges as AstNode[] | undefined) ?? []).map((p) => (p.AccessPriv ?? {}) as AstNode);
  // Column privileges are not checked; ALL PRIVILEGES is each privilege of the kind.
  if (privs.some((p) => Array.isArray(p.cols))) return [];
  const names = privs.length ? privs.map((p) => String(p.priv_name).toUpperCase()) : ALL[kind]!;
  const grantees = ((n.grantees as AstNode[] | undefined) ?? [])
    .map((g) => granteeSql((g.RoleSpec ?? {}) as AstNode))
    .filter((g): g is NonNullable<typeof g> => g !== null);
  const out: DefinedObject[] = [];
  const add = (target: string, from: string, param: unknown) => {
    for (const g of grantees) {
      for (const priv of names) {
        out.push({
          what: `${priv} on ${target} to ${g.shown}`,
          key: `grant:${target}:${g.text}:${priv}`,
          sql: `${from.replace('$HOLDS', ACL_HOLDS)}`,
          params: [param, g.text, priv],
        });
      }
    }
  };
  const classAcl = (pred: string) =>
    `select coalesce(bool_and(ok), true) as ok from (select $HOLDS as ok from (select relacl as acl, ` +
    `case when relkind = 'S' then 's' else 'r' end::"char" as kind, ` +
    `relowner as owner from pg_class where ${pred}) o) x`;
  if (n.targtype === 'ACL_TARGET_ALL_IN_SCHEMA') {
    if (kind !== 'table' && kind !== 'sequence') return [];
    const relkinds = kind === 'table' ? `array['r','p','v','m','f']::"char"[]` : `array['S']::"char"[]`;
    for (const schema of stringsOf(n.objects)) {
      // Every table of the schema as it is now: one created since the file ran counts as well.
      add(
        `every ${kind} in schema ${schema}`,
        `${classAcl(`relnamespace = to_regnamespace($1) and relkind = any(${relkinds})`)}`,
        quote(schema),
      );
    }
    return out;
  }
  if (n.targtype !== 'ACL_TARGET_OBJECT') return [];
  for (const o of (n.objects as AstNode[] | undefined) ?? []) {
    if (kind === 'table' || kind === 'sequence') {
      const r = relOf(o.RangeVar);
      // A relation that is gone is said once, as a missing grant: the grant went with it.
      add(
        shown(r),
        `select coalesce((${classAcl('oid = to_regclass($1)')}), false) and to_regclass($1) is not null as ok`,
        regText(r),
      );
    } else if (kind === 'schema') {
      const s = stringsOf([o])[0]!;
      add(
        `schema ${s}`,
        `select coalesce((select $HOLDS from (select nspacl as acl, 'n'::"char" as kind, ` +
          `nspowner as owner from pg_namespace where nspname = $1) o), false) as ok`,
        s,
      );
    } else {
      const d = stringsOf([o])[0]!;
      add(
        `database ${d}`,
        `select coalesce((select $HOLDS from (select datacl as acl, 'd'::"char" as kind, ` +
          `datdba as owner from pg_database where datname = $1) o), false) as ok`,
        d,
      );
    }
  }
  return out;
}

/** The objects the statements leave, in order; a later DROP in the same file takes one away. */
export function definedObjects(statements: readonly ParsedStatement[]): DefinedObject[] {
  const found = new Map<string, DefinedObject>();
  const put = (o: DefinedObject) => found.set(o.key, o);
  for (const s of statements) {
    const n = s.node;
    switch (s.kind) {
      case 'ViewStmt':
        put(relationExists(relOf(n.view), 'v', 'view'));
        break;
      case 'CreateTableAsStmt':
        if (n.objtype === 'OBJECT_MATVIEW')
          put(relationExists(relOf((n.into as AstNode | undefined)?.rel), 'm', 'materialized view'));
        break;
      case 'CreateFunctionStmt':
        put(functionObject(n));
        break;
      case 'CreatePolicyStmt': {
        const t = relOf(n.table);
        put({
          what: `policy ${n.policy_name} on ${shown(t)}`,
          key: `policy:${shown(t)}:${n.policy_name}`,
          sql: 'select exists (select 1 from pg_policy where polname = $1 and polrelid = to_regclass($2)) as ok',
          params: [n.policy_name, regText(t)],
        });
        break;
      }
      case 'CreateTrigStmt': {
        const t = relOf(n.relation);
        put({
          what: `trigger ${n.trigname} on ${shown(t)}`,
          key: `trigger:${shown(t)}:${n.trigname}`,
          sql: 'select exists (select 1 from pg_trigger where tgname = $1 and tgrelid = to_regclass($2)) as ok',
          params: [n.trigname, regText(t)],
        });
        break;
      }
      case 'AlterTableStmt': {
        const t = relOf(n.relation);
        for (const c of (n.cmds as AstNode[] | undefined) ?? []) {
          const sub = ((c.AlterTableCmd ?? {}) as AstNode).subtype;
          const key = `rls:${shown(t)}`;
          if (sub === 'AT_EnableRowSecurity')
            put({
              what: `row level security on ${shown(t)}`,
              key,
              sql: 'select coalesce((select relrowsecurity from pg_class where oid = to_regclass($1)), false) as ok',
              params: [regText(t)],
            });
          if (sub === 'AT_DisableRowSecurity') found.delete(key);
        }
        break;
      }
      case 'GrantStmt':
        for (const o of grantObjects(n)) put(o);
        break;
      case 'DropStmt':
        for (const parts of qualifiedNames(n.objects)) {
          const type = String(n.removeType);
          if (type === 'OBJECT_VIEW' || type === 'OBJECT_MATVIEW') found.delete(`relation:${shown(partsRel(parts))}`);
          if (type === 'OBJECT_POLICY' || type === 'OBJECT_TRIGGER') {
            const t = shown(partsRel(parts.slice(0, -1)));
            found.delete(`${type === 'OBJECT_POLICY' ? 'policy' : 'trigger'}:${t}:${parts.at(-1)}`);
          }
          if (type === 'OBJECT_FUNCTION' || type === 'OBJECT_PROCEDURE')
            for (const k of [...found.keys()]) if (k.startsWith(`function:${shown(partsRel(parts))}:`)) found.delete(k);
        }
        break;
    }
  }
  return [...found.values()];
}

/** Which of the objects the database lacks: read-only, one query for them all. */
export async function missingObjects(client: Q, objects: readonly DefinedObject[]): Promise<string[]> {
  if (objects.length === 0) return [];
  const params: unknown[] = [];
  const columns = objects.map((o, i) => {
    const offset = params.length;
    params.push(...o.params);
    const sql = o.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
    return `(select ok from (${sql}) q) as o${i}`;
  });
  const { rows } = await client.query<Record<string, boolean | null>>(`select ${columns.join(', ')}`, params);
  return objects.filter((_, i) => rows[0]?.[`o${i}`] !== true).map((o) => o.what);
}
