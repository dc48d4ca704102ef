-- Pulse v1.4: infrastructure discovery.
-- Idempotent: running it again, or on a database at any later release, changes nothing.

CREATE TABLE IF NOT EXISTS discovery_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  organization_id uuid NOT NULL
    CONSTRAINT discovery_sessions_organization_id_organizations_id_fk REFERENCES organizations (id) ON DELETE CASCADE,
  integration_id uuid
    CONSTRAINT discovery_sessions_integration_id_aws_integrations_id_fk REFERENCES aws_integrations (id) ON DELETE SET NULL,
  name varchar(255) NOT NULL,
  description text,
  provider varchar(50) DEFAULT 'aws' NOT NULL,
  regions jsonb NOT NULL,
  status varchar(50) DEFAULT 'pending' NOT NULL,
  resource_count integer DEFAULT 0 NOT NULL,
  metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
  created_by uuid
    CONSTRAINT discovery_sessions_created_by_users_id_fk REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamp with time zone DEFAULT now() NOT NULL,
  updated_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE INDEX IF NOT EXISTS discovery_sessions_organization_id_idx ON discovery_sessions USING btree (organization_id);
CREATE INDEX IF NOT EXISTS discovery_sessions_integration_id_idx ON discovery_sessions USING btree (integration_id);
CREATE INDEX IF NOT EXISTS discovery_sessions_created_by_idx ON discovery_sessions USING btree (created_by);

CREATE TABLE IF NOT EXISTS discovery_resources (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  session_id uuid NOT NULL
    CONSTRAINT discovery_resources_session_id_discovery_sessions_id_fk REFERENCES discovery_sessions (id) ON DELETE CASCADE,
  resource_type varchar(255) NOT NULL,
  resource_id varchar(512) NOT NULL,
  region varchar(50),
  arn text,
  name varchar(512),
  tags jsonb DEFAULT '{}'::jsonb NOT NULL,
  properties jsonb DEFAULT '{}'::jsonb NOT NULL,
  created_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE INDEX IF NOT EXISTS discovery_resources_session_id_idx ON discovery_resources USING btree (session_id);

CREATE TABLE IF NOT EXISTS discovery_code_generations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  session_id uuid NOT NULL
    CONSTRAINT discovery_code_generations_session_id_discovery_sessions_id_fk REFERENCES discovery_sessions (id) ON DELETE CASCADE,
  format varchar(50) NOT NULL,
  code text,
  resource_ids jsonb DEFAULT '[]'::jsonb NOT NULL,
  status varchar(50) DEFAULT 'pending' NOT NULL,
  created_by uuid
    CONSTRAINT discovery_code_generations_created_by_users_id_fk REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamp with time zone DEFAULT now() NOT NULL,
  CONSTRAINT discovery_code_generations_format_check CHECK (format IN ('terraform', 'cloudformation', 'pulumi'))
);
CREATE INDEX IF NOT EXISTS discovery_code_generations_session_id_idx ON discovery_code_generations USING btree (session_id);
CREATE INDEX IF NOT EXISTS discovery_code_generations_created_by_idx ON discovery_code_generations USING btree (created_by);

-- BEGIN upkit seed v1.4 (generated from drizzle/seed.ts by `npm run content:build`; do not edit)
WITH created AS (
  INSERT INTO permissions (resource, action, description) VALUES
    ('discovery', 'read', 'View discovery sessions and resources'),
    ('discovery', 'write', 'Create and edit discovery sessions'),
    ('discovery', 'execute', 'Run discovery and generate code')
  ON CONFLICT (resource, action) DO NOTHING
  RETURNING id, resource, action
)
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, c.id
  FROM created c
  JOIN (VALUES ('member', 'discovery', 'read'), ('viewer', 'discovery', 'read'), ('member', 'discovery', 'write')) AS g (role, resource, action) ON g.resource = c.resource AND g.action = c.action
  JOIN roles r ON r.name = g.role AND r.organization_id IS NULL
ON CONFLICT DO NOTHING;

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id
  FROM roles r
  JOIN permissions p ON (p.resource, p.action) IN (('discovery', 'read'), ('discovery', 'write'), ('discovery', 'execute'))
 WHERE r.name = 'admin' AND r.organization_id IS NULL
ON CONFLICT DO NOTHING;

UPDATE organizations
   SET features_enabled = jsonb_build_object('discovery', true) || features_enabled
 WHERE NOT (features_enabled ?& ARRAY['discovery']);
-- END upkit seed
