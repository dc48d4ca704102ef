// Seed data that upkit owns for Pulse: system roles, permissions and feature flags, each
// with the release that introduced it. One source for both eras: the legacy SQL files
// carry blocks generated from it (npm run content:build), the drizzle era applies it with
// applySeed(), and verification reads it to know what must exist.
import type { Client } from 'pg';

export const RELEASES = ['v1.0', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v2.0', 'v2.1', 'v2.2', 'v2.3'] as const;
export type Release = (typeof RELEASES)[number];
export const LATEST_RELEASE: Release = 'v2.3';

export function releaseIndex(r: Release): number {
  return RELEASES.indexOf(r);
}

export function atOrBefore(r: Release, limit: Release): boolean {
  return releaseIndex(r) <= releaseIndex(limit);
}

export type SystemRole = 'admin' | 'member' | 'viewer';

export const SYSTEM_ROLES: ReadonlyArray<{ name: SystemRole; description: string; since: Release }> = [
  { name: 'admin', description: 'Full access to everything in the organization', since: 'v1.2' },
  { name: 'member', description: 'Works with configurations and integrations', since: 'v1.2' },
  { name: 'viewer', description: 'Read-only access', since: 'v1.2' },
];

export interface SeedPermission {
  resource: string;
  action: string;
  description: string;
  since: Release;
  /** Roles besides admin that receive it when it is first created (an operator may revoke it later). */
  grantedTo: ReadonlyArray<Exclude<SystemRole, 'admin'>>;
}

const p = (
  resource: string,
  action: string,
  description: string,
  since: Release,
  grantedTo: SeedPermission['grantedTo'] = [],
): SeedPermission => ({
  resource,
  action,
  description,
  since,
  grantedTo,
});

export const PERMISSIONS: readonly SeedPermission[] = [
  p('organizations', 'read', 'View organization settings', 'v1.2', ['member', 'viewer']),
  p('organizations', 'write', 'Change organization settings', 'v1.2'),
  p('organizations', 'manage', 'Manage billing, features and deletion', 'v1.2'),
  p('users', 'read', 'List users', 'v1.2', ['member', 'viewer']),
  p('users', 'write', 'Edit users', 'v1.2'),
  p('users', 'invite', 'Invite users', 'v1.2'),
  p('users', 'delete', 'Remove users', 'v1.2'),
  p('configurations', 'read', 'View configurations', 'v1.2', ['member', 'viewer']),
  p('configurations', 'write', 'Create and edit configurations', 'v1.2', ['member']),
  p('configurations', 'delete', 'Delete configurations', 'v1.2'),
  p('configurations', 'deploy', 'Deploy configurations', 'v1.2', ['member']),
  p('aws_integrations', 'read', 'View AWS integrations', 'v1.2', ['member', 'viewer']),
  p('aws_integrations', 'write', 'Create and edit AWS integrations', 'v1.2'),
  p('aws_integrations', 'delete', 'Delete AWS integrations', 'v1.2'),
  p('aws_integrations', 'sync', 'Sync AWS integrations', 'v1.2', ['member']),
  p('roles', 'read', 'View roles', 'v1.2', ['member', 'viewer']),
  p('roles', 'write', 'Create and edit roles', 'v1.2'),
  p('roles', 'delete', 'Delete roles', 'v1.2'),
  p('roles', 'assign', 'Assign roles to users', 'v1.2'),
  p('permissions', 'read', 'View permissions', 'v1.2', ['member', 'viewer']),
  p('discovery', 'read', 'View discovery sessions and resources', 'v1.4', ['member', 'viewer']),
  p('discovery', 'write', 'Create and edit discovery sessions', 'v1.4', ['member']),
  p('discovery', 'execute', 'Run discovery and generate code', 'v1.4'),
  p('api_keys', 'read', 'View API keys', 'v2.1'),
  p('api_keys', 'write', 'Create and revoke API keys', 'v2.1'),
];

export const FEATURE_FLAGS: ReadonlyArray<{ key: string; since: Release }> = [
  { key: 'configurations', since: 'v1.1' },
  { key: 'awsIntegrations', since: 'v1.1' },
  { key: 'discovery', since: 'v1.4' },
  { key: 'apiKeys', since: 'v2.1' },
  { key: 'auditLogs', since: 'v2.2' },
];

export interface SeedSet {
  roles: typeof SYSTEM_ROLES;
  permissions: readonly SeedPermission[];
  flags: readonly string[];
}

/** What a database at `release` must hold; with `onlyFrom`, just what releases after it added. */
export function seedFor(release: Release, onlyFrom?: Release): SeedSet {
  const pick = (since: Release) =>
    atOrBefore(since, release) && (onlyFrom === undefined || releaseIndex(since) > releaseIndex(onlyFrom));
  return {
    roles: SYSTEM_ROLES.filter((r) => pick(r.since)),
    permissions: PERMISSIONS.filter((x) => pick(x.since)),
    flags: FEATURE_FLAGS.filter((f) => pick(f.since)).map((f) => f.key),
  };
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * Idempotent SQL for a seed set: running it again changes nothing, an operator's `false`
 * for a flag is kept, and member/viewer grants are made only when a permission is first
 * created, so an operator who revoked one does not see it come back.
 */
export function seedSql(set: SeedSet): string {
  const out: string[] = [];
  if (set.roles.length) {
    out.push(
      `INSERT INTO roles (name, description, is_system) ` +
        `VALUES\n${set.roles.map((r) => `  (${lit(r.name)}, ${lit(r.description)}, true)`).join(',\n')}` +
        `\nON CONFLICT (name) WHERE organization_id IS NULL DO NOTHING;`,
    );
  }
  if (set.permissions.length) {
    const values = set.permissions
      .map((x) => `  (${lit(x.resource)}, ${lit(x.action)}, ${lit(x.description)})`)
      .join(',\n');
    const grants = set.permissions.flatMap((x) =>
      x.grantedTo.map((role) => `(${lit(role)}, ${lit(x.resource)}, ${lit(x.action)})`),
    );
    if (grants.length) {
      out.push(
        [
          'WITH created AS (',
          `  INSERT INTO permissions (resource, action, description) VALUES\n${values.replace(/^/gm, '  ')}`,
          '  ON CONFLICT (resource, action) DO NOTHING',
          '  RETURNING id, resource, action',
          ')',
          'INSERT INTO role_permissions (role_id, permission_id)',
          'SELECT r.id, c.id',
          '  FROM created c',
          `  JOIN (VALUES ${grants.join(', ')}) AS g (role, resource, ` +
            `action) ON g.resource = c.resource AND g.action = c.action`,
          '  JOIN roles r ON r.name = g.role AND r.organization_id IS NULL',
          'ON CONFLICT DO NOTHING;',
        ].join('\n'),
      );
    } else {
      out.push(
        `INSERT INTO permissions (resource, action, description) ` +
          `VALUES\n${values}\nON CONFLICT (resource, action) DO NOTHING;`,
      );
    }
    out.push(
      [
        'INSERT INTO role_permissions (role_id, permission_id)',
        'SELECT r.id, p.id',
        '  FROM roles r',
        `  JOIN permissions p ON (p.resource, p.action) ` +
          `IN (${set.permissions.map((x) => `(${lit(x.resource)}, ${lit(x.action)})`).join(', ')})`,
        " WHERE r.name = 'admin' AND r.organization_id IS NULL",
        'ON CONFLICT DO NOTHING;',
      ].join('\n'),
    );
  }
  if (set.flags.length) {
    const obj = `jsonb_build_object(${set.flags.map((f) => `${lit(f)}, true`).join(', ')})`;
    out.push(
      `UPDATE organizations\n   SET features_enabled = ${obj} || features_enabled\n` +
        ` WHERE NOT (features_enabled ?& ARRAY[${set.flags.map(lit).join(', ')}]);`,
    );
  }
  return out.join('\n\n');
}

/** Brings the seed data of a database to `release` (all of it, idempotently). */
export async function applySeed(client: Pick<Client, 'query'>, release: Release): Promise<void> {
  const sql = seedSql(seedFor(release));
  if (sql) await client.query(sql);
}

export interface SeedGaps {
  organizationsMissingFlags: number;
  missingPermissions: number;
  missingRoles: number;
  adminMissingGrants: number;
}

/** What applySeed(release) would add: all zeros means seeding has nothing to do. */
export async function seedGaps(client: Pick<Client, 'query'>, release: Release): Promise<SeedGaps> {
  const set = seedFor(release);
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const has = async (rel: string) =>
    (await client.query<{ ok: boolean }>('select to_regclass($1) is not null as ok', [rel])).rows[0]!.ok;
  const gaps: SeedGaps = {
    organizationsMissingFlags: 0,
    missingPermissions: set.permissions.length,
    missingRoles: set.roles.length,
    adminMissingGrants: set.permissions.length,
  };
  const flagsColumn = await client.query<{ ok: boolean }>(
    `select exists (select 1 from pg_attribute where attrelid = to_regclass('public.organizations') ` +
      `and attname = 'features_enabled' and not attisdropped) as ok`,
  );
  if (set.flags.length && (await has('public.organizations'))) {
    if (flagsColumn.rows[0]!.ok) {
      const { rows } = await client.query<{ n: number }>(
        `select count(*)::int as n from organizations where not ` +
          `(features_enabled ?& array[${set.flags.map(lit).join(', ')}])`,
      );
      gaps.organizationsMissingFlags = rows[0]!.n;
    } else {
      gaps.organizationsMissingFlags = Number(
        (await client.query<{ n: number }>('select count(*)::int as n from organizations')).rows[0]!.n,
      );
    }
  }
  if (set.permissions.length && (await has('public.permissions')) && (await has('public.roles'))) {
    const pairs = set.permissions.map((p) => `(${lit(p.resource)}, ${lit(p.action)})`).join(', ');
    const { rows } = await client.query<{ perms: number; roles: number; grants: number }>(
      `select (select count(*)::int from permissions where (resource, action) in (${pairs})) as perms,
              (select count(*)::int from roles where organization_id is ` +
        `null and name in (${set.roles.map((r) => lit(r.name)).join(', ')})) as roles,
              (select count(*)::int from role_permissions rp join roles ` +
        `r on r.id = rp.role_id join permissions p on p.id = rp.permission_id
                where r.name = 'admin' and r.organization_id ` +
        `is null and (p.resource, p.action) in (${pairs})) as grants`,
    );
    gaps.missingPermissions = set.permissions.length - rows[0]!.perms;
    gaps.missingRoles = set.roles.length - rows[0]!.roles;
    gaps.adminMissingGrants = set.permissions.length - rows[0]!.grants;
  }
  return gaps;
}
