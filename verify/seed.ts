// Seed data a content profile expects (Pulse: drizzle/seed.ts): feature flags on every
// organization, the seed permissions, the system roles, and `admin` holding every seed
// permission. Read in one query; turned into findings by a pure function.
import { plural } from '../lib/plural.ts';
import type { Client } from 'pg';
import type { ActualSchema } from './model.ts';
import { finding, type VerifyFinding } from './model.ts';

export interface SeedExpectations {
  flags: readonly string[];
  permissions: ReadonlyArray<{ resource: string; action: string }>;
  systemRoles: readonly string[];
  adminRole: string;
}

export interface SeedState {
  organizations: number;
  users: number;
  permissions: number;
  adminGrants: number;
  orgsMissingFlags: number;
  missingFlags: Array<{ slug: string; missing: string[] }>;
  disabled: Array<{ flag: string; count: number; slugs: string[] }>;
  oddValues: Array<{ flag: string; count: number; slugs: string[] }>;
  missingPermissions: Array<[string, string]>;
  missingRoles: string[];
  adminMissing: Array<[string, string]>;
}

/** The tables and columns (with a type where it matters) the seed query reads. */
export const SEED_COLUMNS: Readonly<Record<string, ReadonlyArray<string>>> = {
  organizations: ['slug', 'features_enabled:jsonb'],
  users: [],
  permissions: ['id', 'resource', 'action'],
  roles: ['id', 'name', 'organization_id'],
  role_permissions: ['role_id', 'permission_id'],
};

/** What stops the seed query from running on this catalog: a missing table or column. */
export function seedBlockers(actual: ActualSchema): string[] {
  const out: string[] = [];
  for (const [table, columns] of Object.entries(SEED_COLUMNS)) {
    const t = actual.tables.find((x) => x.schema === 'public' && x.name === table);
    if (!t) {
      out.push(`table ${table} is missing`);
      continue;
    }
    for (const spec of columns) {
      const [name, type] = spec.split(':');
      const c = t.columns.find((x) => x.name === name);
      if (!c) out.push(`column ${table}.${name} is missing`);
      else if (type && c.type.name !== type) out.push(`column ${table}.${name} is ${c.type.name}, not ${type}`);
    }
  }
  return out;
}

/** Shown per organization up to this many; the rest are counted. */
export const ORG_LIMIT = 20;

const QUERY =
  `
with expected_flags as (select unnest($1::text[]) as k),
     perms as (select * from unnest($2::text[], $3::text[]) as x(resource, action)),
     orgs as (select slug, case when jsonb_typeof(features_enabled) ` +
  `= 'object' then features_enabled else '{}'::jsonb end as f from organizations),
     admin as (select id from roles where name = $4 and organization_id is null)
select (select count(*) from organizations)::int as organizations,
       (select count(*) from users)::int as users,
       (select count(*) from permissions)::int as permissions,
       (select count(*) from role_permissions where role_id in (select id from admin))::int as admin_grants,
       (select count(*) from orgs where not (f ?& $1::text[]))::int as orgs_missing_flags,
       (select json_agg(x) from (select o.slug, array(select k from expected_flags where not (o.f ? k)) as missing
                                   from orgs o where not (o.f ` +
  `?& $1::text[]) order by o.slug limit $5) x) as missing_flags,
       (select json_agg(x) from (select k as flag, ` +
  `count(*)::int as count, (array_agg(o.slug order by o.slug))[1:10] as slugs
                                   from orgs o cross join expected_flags ` +
  `where o.f -> k = 'false'::jsonb group by k order by k) x) as disabled,
       (select json_agg(x) from (select k as flag, ` +
  `count(*)::int as count, (array_agg(o.slug order by o.slug))[1:10] as slugs
                                   from orgs o cross join ` +
  `expected_flags where o.f ? k and jsonb_typeof(o.f -> k) ` +
  `<> 'boolean' group by k order by k) x) as odd_values,
       (select json_agg(json_build_array(p.resource, p.action)) from perms p
         where not exists (select 1 from permissions q where q.resource ` +
  `= p.resource and q.action = p.action)) as missing_permissions,
       (select json_agg(r) from unnest($6::text[]) r where not exists (select ` +
  `1 from roles where name = r and organization_id is null)) as missing_roles,
       (select json_agg(json_build_array(p.resource, p.action)) ` +
  `from perms p join permissions q on q.resource = p.resource and q.action = p.action
         where exists (select 1 from admin)
           and not exists (select 1 from role_permissions rp where ` +
  `rp.permission_id = q.id and rp.role_id in (select id from admin))) as admin_missing`;

export async function readSeedState(client: Pick<Client, 'query'>, expected: SeedExpectations): Promise<SeedState> {
  const { rows } = await client.query(QUERY, [
    expected.flags,
    expected.permissions.map((p) => p.resource),
    expected.permissions.map((p) => p.action),
    expected.adminRole,
    ORG_LIMIT,
    expected.systemRoles,
  ]);
  const r = rows[0] as Record<string, unknown>;
  return {
    organizations: r.organizations as number,
    users: r.users as number,
    permissions: r.permissions as number,
    adminGrants: r.admin_grants as number,
    orgsMissingFlags: r.orgs_missing_flags as number,
    missingFlags: (r.missing_flags as SeedState['missingFlags'] | null) ?? [],
    disabled: (r.disabled as SeedState['disabled'] | null) ?? [],
    oddValues: (r.odd_values as SeedState['oddValues'] | null) ?? [],
    missingPermissions: (r.missing_permissions as SeedState['missingPermissions'] | null) ?? [],
    missingRoles: (r.missing_roles as string[] | null) ?? [],
    adminMissing: (r.admin_missing as SeedState['adminMissing'] | null) ?? [],
  };
}

const FLAG_HINT = "run: npx zx upgrade.ts (its seed step adds missing flags as true and keeps an operator's false)";
const SEED_HINT = 'run: npx zx upgrade.ts (its seed step adds the missing seed data)';
const some = (slugs: string[], count: number) =>
  `${slugs.join(', ')}${count > slugs.length ? `, … ${count - slugs.length} more` : ''}`;

/** Pure: the findings for what was read. */
export function seedFindings(s: SeedState, expected: SeedExpectations): VerifyFinding[] {
  const out: VerifyFinding[] = [];
  for (const o of s.missingFlags) {
    out.push(
      finding(
        'seed data',
        'error',
        'seed.flag_missing',
        `organization ${o.slug} lacks feature flag${o.missing.length === 1 ? '' : 's'} ${o.missing.join(', ')}`,
        FLAG_HINT,
      ),
    );
  }
  if (s.orgsMissingFlags > s.missingFlags.length) {
    out.push(
      finding(
        'seed data',
        'error',
        'seed.flag_missing',
        `${plural(s.orgsMissingFlags - s.missingFlags.length, 'more organization')}` +
          ` lack feature flags (the first ${s.missingFlags.length} are listed)`,
        FLAG_HINT,
      ),
    );
  }
  for (const d of s.disabled) {
    out.push(
      finding(
        'seed data',
        'info',
        'seed.flag_disabled',
        `feature flag ${d.flag} is off in ${plural(d.count, 'organization')}` +
          ` (${some(d.slugs, d.count)}): an operator's choice, kept`,
      ),
    );
  }
  for (const d of s.oddValues) {
    out.push(
      finding(
        'seed data',
        'warning',
        'seed.flag_value',
        `feature flag ${d.flag} is neither true nor false in ` +
          `${plural(d.count, 'organization')} (${some(d.slugs, d.count)})`,
        `set it to true or false in the organization's settings; the app reads only booleans`,
      ),
    );
  }
  for (const [resource, action] of s.missingPermissions) {
    out.push(
      finding(
        'seed data',
        'error',
        'seed.permission_missing',
        `permission ${resource}:${action} is missing`,
        SEED_HINT,
      ),
    );
  }
  for (const role of s.missingRoles) {
    out.push(finding('seed data', 'error', 'seed.role_missing', `system role ${role} is missing`, SEED_HINT));
  }
  for (const [resource, action] of s.adminMissing) {
    out.push(
      finding(
        'seed data',
        'error',
        'seed.admin_grant_missing',
        `system role ${expected.adminRole} lacks permission ${resource}:${action}`,
        `run: npx zx upgrade.ts (its seed step grants ${expected.adminRole} every seed permission)`,
      ),
    );
  }
  out.push(
    finding(
      'seed data',
      'info',
      'seed.counts',
      `${plural(s.organizations, 'organization')}, ${plural(s.users, 'user')}, ` +
        `${plural(s.permissions, 'permission')} (${expected.permissions.length}` +
        ` expected), ${plural(s.adminGrants, 'grant')} to ${expected.adminRole}`,
    ),
  );
  return out;
}
