-- Pulse v1.2: roles and permissions.
-- Idempotent: running it again, or on a database at any later release, changes nothing.

CREATE TABLE IF NOT EXISTS roles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  -- null for the system roles every organization shares
  organization_id uuid
    CONSTRAINT roles_organization_id_organizations_id_fk REFERENCES organizations (id) ON DELETE CASCADE,
  name varchar(100) NOT NULL,
  description text,
  is_system boolean DEFAULT false NOT NULL,
  created_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS roles_organization_name_idx ON roles USING btree (organization_id, name);
CREATE UNIQUE INDEX IF NOT EXISTS roles_system_name_idx ON roles USING btree (name) WHERE organization_id IS NULL;

CREATE TABLE IF NOT EXISTS permissions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  resource varchar(100) NOT NULL,
  action varchar(50) NOT NULL,
  description text,
  created_at timestamp with time zone DEFAULT now() NOT NULL,
  CONSTRAINT permissions_resource_action_unique UNIQUE (resource, action)
);

CREATE TABLE IF NOT EXISTS role_permissions (
  role_id uuid NOT NULL
    CONSTRAINT role_permissions_role_id_roles_id_fk REFERENCES roles (id) ON DELETE CASCADE,
  permission_id uuid NOT NULL
    CONSTRAINT role_permissions_permission_id_permissions_id_fk REFERENCES permissions (id) ON DELETE CASCADE,
  CONSTRAINT role_permissions_pkey PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX IF NOT EXISTS role_permissions_permission_id_idx ON role_permissions USING btree (permission_id);

CREATE TABLE IF NOT EXISTS user_roles (
  user_id uuid NOT NULL
    CONSTRAINT user_roles_user_id_users_id_fk REFERENCES users (id) ON DELETE CASCADE,
  role_id uuid NOT NULL
    CONSTRAINT user_roles_role_id_roles_id_fk REFERENCES roles (id) ON DELETE CASCADE,
  created_at timestamp with time zone DEFAULT now() NOT NULL,
  CONSTRAINT user_roles_pkey PRIMARY KEY (user_id, role_id)
);
CREATE INDEX IF NOT EXISTS user_roles_role_id_idx ON user_roles USING btree (role_id);

-- BEGIN upkit seed v1.2 (generated from drizzle/seed.ts by `npm run content:build`; do not edit)
INSERT INTO roles (name, description, is_system) VALUES
  ('admin', 'Full access to everything in the organization', true),
  ('member', 'Works with configurations and integrations', true),
  ('viewer', 'Read-only access', true)
ON CONFLICT (name) WHERE organization_id IS NULL DO NOTHING;

WITH created AS (
  INSERT INTO permissions (resource, action, description) VALUES
    ('organizations', 'read', 'View organization settings'),
    ('organizations', 'write', 'Change organization settings'),
    ('organizations', 'manage', 'Manage billing, features and deletion'),
    ('users', 'read', 'List users'),
    ('users', 'write', 'Edit users'),
    ('users', 'invite', 'Invite users'),
    ('users', 'delete', 'Remove users'),
    ('configurations', 'read', 'View configurations'),
    ('configurations', 'write', 'Create and edit configurations'),
    ('configurations', 'delete', 'Delete configurations'),
    ('configurations', 'deploy', 'Deploy configurations'),
    ('aws_integrations', 'read', 'View AWS integrations'),
    ('aws_integrations', 'write', 'Create and edit AWS integrations'),
    ('aws_integrations', 'delete', 'Delete AWS integrations'),
    ('aws_integrations', 'sync', 'Sync AWS integrations'),
    ('roles', 'read', 'View roles'),
    ('roles', 'write', 'Create and edit roles'),
    ('roles', 'delete', 'Delete roles'),
    ('roles', 'assign', 'Assign roles to users'),
    ('permissions', 'read', 'View permissions')
  ON CONFLICT (resource, action) DO NOTHING
  RETURNING id, resource, action
)
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, c.id
  FROM created c
  JOIN (VALUES ('member', 'organizations', 'read'), ('viewer', 'organizations', 'read'), ('member', 'users', 'read'), ('viewer', 'users', 'read'), ('member', 'configurations', 'read'), ('viewer', 'configurations', 'read'), ('member', 'configurations', 'write'), ('member', 'configurations', 'deploy'), ('member', 'aws_integrations', 'read'), ('viewer', 'aws_integrations', 'read'), ('member', 'aws_integrations', 'sync'), ('member', 'roles', 'read'), ('viewer', 'roles', 'read'), ('member', 'permissions', 'read'), ('viewer', 'permissions', 'read')) AS g (role, resource, action) ON g.resource = c.resource AND g.action = c.action
  JOIN roles r ON r.name = g.role AND r.organization_id IS NULL
ON CONFLICT DO NOTHING;

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id
  FROM roles r
  JOIN permissions p ON (p.resource, p.action) IN (('organizations', 'read'), ('organizations', 'write'), ('organizations', 'manage'), ('users', 'read'), ('users', 'write'), ('users', 'invite'), ('users', 'delete'), ('configurations', 'read'), ('configurations', 'write'), ('configurations', 'delete'), ('configurations', 'deploy'), ('aws_integrations', 'read'), ('aws_integrations', 'write'), ('aws_integrations', 'delete'), ('aws_integrations', 'sync'), ('roles', 'read'), ('roles', 'write'), ('roles', 'delete'), ('roles', 'assign'), ('permissions', 'read'))
 WHERE r.name = 'admin' AND r.organization_id IS NULL
ON CONFLICT DO NOTHING;
-- END upkit seed

-- Every user gets the system role named by users.role (unknown names become member).
-- Only while user_roles is still empty: once roles are managed in the application, a
-- later run must not bring back an assignment someone removed.
INSERT INTO user_roles (user_id, role_id)
SELECT u.id, r.id
  FROM users u
  JOIN roles r
    ON r.organization_id IS NULL
   AND r.name = CASE WHEN u.role IN ('admin', 'member', 'viewer') THEN u.role ELSE 'member' END
 WHERE NOT EXISTS (SELECT 1 FROM user_roles)
ON CONFLICT DO NOTHING;
