// Realistic, deterministic Pulse data for a database at a given release, generated inside
// PostgreSQL (generate_series, md5-derived ids) so that the same knob that makes 40 users
// for a test makes 1M for a benchmark. The same size and release always give the same rows.
import type { Client } from 'pg';
import { atOrBefore, FEATURE_FLAGS, type Release } from '../../drizzle/seed.ts';

export interface DataSize {
  users: number;
}

export const SMALL: DataSize = { users: 40 };

export function counts(size: DataSize) {
  const organizations = Math.max(4, Math.ceil(size.users / 10));
  return {
    organizations,
    users: size.users,
    integrations: organizations * 2,
    configurations: size.users,
    sessions: organizations * 2,
    resourcesPerSession: 10,
    apiKeys: organizations * 2,
    auditLogs: size.users * 2,
  };
}

const at = (release: Release, since: Release) => atOrBefore(since, release);

/** Fills an empty database at `release` with data the way the platform at that release would hold it. */
export async function fillData(client: Pick<Client, 'query'>, release: Release, size: DataSize = SMALL): Promise<void> {
  const n = counts(size);
  const flags = FEATURE_FLAGS.filter((f) => at(release, f.since)).map((f) => f.key);
  // Every fourth organization switched one flag off: an operator's choice upgrades must keep.
  const flagsExpr = flags.length
    ? `jsonb_build_object(${flags.map((f) => `'${f}', ${f === 'awsIntegrations' ? 'i % 4 <> 0' : 'true'}`).join(', ')})`
    : `'{}'::jsonb`;
  await client.query(`
    insert into organizations (id, name, slug, ${at(release, 'v1.1') ? 'features_enabled, ' : ''}created_at, updated_at)
    select md5('org-' || i)::uuid, 'Organization ' || i, 'org-' || i, ${at(release, 'v1.1') ? `${flagsExpr}, ` : ''}
           timestamptz '2024-01-01' + i * interval '1 hour', timestamptz '2024-01-01' + i * interval '2 hour'
      from generate_series(1, ${n.organizations}) i`);

  // Emails were stored as typed until v1.3 lower-cased them; no two differ only by case.
  const email = `'User' || i || '@Org' || (1 + (i - 1) % ${n.organizations}) || '.Example'`;
  await client.query(
    `
    insert into users (id, organization_id, email, password_hash, ` +
      `name, role, is_active, last_login_at, created_at, updated_at
                       ${at(release, 'v2.3') ? ', preferences, mfa_enabled' : ''})
    select md5('user-' || i)::uuid, md5('org-' || (1 + (i - 1) % ${n.organizations}))::uuid,
           ${at(release, 'v1.3') ? `lower(${email})` : `case when i % 4 = 0 then ${email} else lower(${email}) end`},
           'scrypt$16384$8$1$' || md5('salt' || i) || '$' || md5('hash' || i),
           'User ' || i, (array['admin', 'member', 'member', 'viewer', 'member', 'owner'])[1 + i % 6],
           i % 11 <> 0, case when i % 3 = 0 then null else timestamptz '2025-06-01' + i * interval '1 minute' end,
           timestamptz '2024-02-01' + i * interval '1 minute', timestamptz '2024-03-01' + i * interval '1 minute'
           ` +
      `${
        at(release, 'v2.3')
          ? `, case when i % 5 = 0 then '{"theme": "dark", "digest": ` +
            `"weekly"}'::jsonb else '{}'::jsonb end, i % 9 = 0`
          : ''
      }
      from generate_series(1, ${n.users}) i`,
  );

  if (at(release, 'v1.2')) {
    await client.query(`
      insert into user_roles (user_id, role_id, created_at)
      select u.id, r.id, u.created_at
        from users u
        join roles r on r.organization_id is null
         and r.name = case when u.role in ('admin', 'member', 'viewer') then u.role else 'member' end`);
  }

  // Before v2.3 status was free text, and installs hold values outside today's enum.
  const status = at(release, 'v2.3')
    ? `((array['active', 'active', 'paused', 'error'])[1 + i % 4])::integration_status`
    : `(array['active', 'active', 'paused', 'error', 'Active ', 'disabled'])[1 + i % 6]`;
  await client.query(
    `
    insert into aws_integrations (id, organization_id, name, ` +
      `role_arn, external_id, regions, status, created_at, updated_at)
    select md5('int-' || i)::uuid, md5('org-' || (1 + (i - 1) % ${n.organizations}))::uuid, 'Integration ' || i,
           'arn:aws:iam::' || lpad(i::text, 12, '0') || ':role/pulse-discovery', 'ext-' || md5('ext' || i),
           case when i % 2 = 0 then '["us-east-1", "eu-west-1"]'::jsonb else '["eu-central-1"]'::jsonb end,
           ${status}, timestamptz '2024-04-01' + i * interval '1 hour', timestamptz '2024-04-02' + i * interval '1 hour'
      from generate_series(1, ${n.integrations}) i`,
  );

  await client.query(
    `
    insert into configurations (id, organization_id, name, content, version, created_by, created_at, updated_at)
    select md5('cfg-' || i)::uuid, md5('org-' || (1 + (i - 1) % ${n.organizations}))::uuid, 'service-' || i || '.yaml',
           jsonb_build_object('service', 'svc-' || i, 'replicas', 1 + i % 5, ` +
      `'env', jsonb_build_object('LOG_LEVEL', (array['info', 'debug', 'warn'])[1 + i % 3]),
                              'ports', jsonb_build_array(8000 + i % 100, 9000 + i % 100), 'note', repeat('x', i % 64)),
           1 + i % 7, case when i % 10 = 0 then null else md5('user-' || i)::uuid end,
           timestamptz '2024-05-01' + i * interval '1 minute', timestamptz '2024-05-02' + i * interval '1 minute'
      from generate_series(1, ${n.configurations}) i`,
  );

  if (at(release, 'v1.4')) {
    await client.query(
      `
      insert into discovery_sessions (id, organization_id, integration_id, name, description, ` +
        `provider, regions, status, resource_count, metadata, created_by, created_at, updated_at)
      select md5('ses-' || i)::uuid, md5('org-' || (1 + (i - 1) % ${n.organizations}))::uuid, md5('int-' || i)::uuid,
             'Discovery ' || i, case when i % 2 = 0 then 'nightly scan' end, 'aws', '["us-east-1"]'::jsonb,
             (array['pending', 'running', 'completed', 'failed'])[1 + i % 4], ${n.resourcesPerSession},
             jsonb_build_object('trigger', 'schedule', 'attempt', ` +
        `i % 3), md5('user-' || (1 + (i - 1) % ${n.users}))::uuid,
             timestamptz '2024-06-01' + i * interval '1 hour', timestamptz '2024-06-01' + i * interval '1 hour'
        from generate_series(1, ${n.sessions}) i`,
    );
    await client.query(
      `
      insert into discovery_resources (id, session_id, resource_type, ` +
        `resource_id, region, arn, name, tags, properties, created_at)
      select md5('res-' || s || '-' || j)::uuid, md5('ses-' || s)::uuid,
             (array['AWS::EC2::Instance', 'AWS::S3::Bucket', ` +
        `'AWS::RDS::DBInstance', 'AWS::Lambda::Function'])[1 + j % 4],
             'r-' || s || '-' || j, 'us-east-1', ` +
        `'arn:aws:ec2:us-east-1:000000000000:resource/r-' || s || '-' || j, 'resource ' || j,
             jsonb_build_object('team', 'team-' || (s % 5), 'env', (array['prod', 'staging'])[1 + j % 2]),
             jsonb_build_object('size', (array['small', 'large'])[1 + j % 2], 'count', j),
             timestamptz '2024-06-02' + s * interval '1 hour'
        from generate_series(1, ${n.sessions}) s, generate_series(1, ${n.resourcesPerSession}) j`,
    );
    await client.query(
      `
      insert into discovery_code_generations (id, session_id, ` +
        `format, code, resource_ids, status, created_by, created_at)
      select md5('gen-' || i)::uuid, md5('ses-' || i)::uuid, ` +
        `(array['terraform', 'cloudformation', 'pulumi'])[1 + i % 3],
             'resource "aws_s3_bucket" "b' || i || '" {}', ` +
        `jsonb_build_array('r-' || i || '-1', 'r-' || i || '-2'), 'completed',
             md5('user-' || (1 + (i - 1) % ${n.users}))::uuid, timestamptz '2024-06-03' + i * interval '1 hour'
        from generate_series(1, ${n.sessions}) i`,
    );
  }

  if (at(release, 'v2.1')) {
    await client.query(
      `
      insert into api_keys (id, organization_id, name, key_hash, prefix, ` +
        `scopes, last_used_at, expires_at, created_by, created_at, revoked_at)
      select md5('key-' || i)::uuid, md5('org-' || (1 + (i - 1) % ${n.organizations}))::uuid, 'CI key ' || i,
             encode(sha256(('key-' || i)::bytea), 'hex'), 'pk_' || substr(md5('p' || i), 1, 8),
             '["configurations:read"]'::jsonb, case when i % 2 = 0 then timestamptz '2025-07-01' end,
             case when i % 3 = 0 then timestamptz '2027-01-01' end, md5('user-' || (1 + (i - 1) % ${n.users}))::uuid,
             timestamptz '2025-01-01' + i * interval '1 hour', case when i % 5 = 0 then timestamptz '2025-08-01' end
        from generate_series(1, ${n.apiKeys}) i`,
    );
  }

  if (at(release, 'v2.2')) {
    await client.query(
      `
      insert into audit_logs (organization_id, actor_id, action, target_type, target_id, metadata, created_at)
      select md5('org-' || (1 + (i - 1) % ${n.organizations}))::uuid, ` +
        `case when i % 8 = 0 then null else md5('user-' || (1 + (i - 1) % ${n.users}))::uuid end,
             (array['configuration.update', 'user.login', ` +
        `'integration.sync', 'api_key.create'])[1 + i % 4], 'configuration',
             md5('cfg-' || (1 + (i - 1) % ${n.configurations})), jsonb_build_object('ip', '10.0.' || (i % 250) || '.1'),
             timestamptz '2025-02-01' + i * interval '1 minute'
        from generate_series(1, ${n.auditLogs}) i`,
    );
  }
}
