-- Pulse v1.0: the base schema.
-- Idempotent: running it again, or on a database at any later release, changes nothing.
-- Names of constraints and indexes are those drizzle-kit gives the same objects
-- (drizzle/0000_init.sql), so legacy and drizzle installs end up identical.

CREATE TABLE IF NOT EXISTS organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  name varchar(255) NOT NULL,
  slug varchar(100) NOT NULL,
  created_at timestamp with time zone DEFAULT now() NOT NULL,
  updated_at timestamp with time zone DEFAULT now() NOT NULL,
  CONSTRAINT organizations_slug_unique UNIQUE (slug)
);

CREATE TABLE IF NOT EXISTS users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  organization_id uuid NOT NULL
    CONSTRAINT users_organization_id_organizations_id_fk REFERENCES organizations (id) ON DELETE CASCADE,
  email varchar(255) NOT NULL,
  password_hash text NOT NULL,
  name varchar(255),
  role varchar(50) DEFAULT 'member' NOT NULL,
  is_active boolean DEFAULT true NOT NULL,
  last_login_at timestamp with time zone,
  created_at timestamp with time zone DEFAULT now() NOT NULL,
  updated_at timestamp with time zone DEFAULT now() NOT NULL,
  -- v1.3 replaces this with the case-insensitive index users_email_lower_idx.
  CONSTRAINT users_email_unique UNIQUE (email)
);
CREATE INDEX IF NOT EXISTS users_organization_id_idx ON users USING btree (organization_id);

CREATE TABLE IF NOT EXISTS aws_integrations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  organization_id uuid NOT NULL
    CONSTRAINT aws_integrations_organization_id_organizations_id_fk REFERENCES organizations (id) ON DELETE CASCADE,
  name varchar(255) NOT NULL,
  role_arn text NOT NULL,
  external_id varchar(255),
  regions jsonb DEFAULT '[]'::jsonb NOT NULL,
  status varchar(50) DEFAULT 'active' NOT NULL,
  created_at timestamp with time zone DEFAULT now() NOT NULL,
  updated_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE INDEX IF NOT EXISTS aws_integrations_organization_id_idx ON aws_integrations USING btree (organization_id);

CREATE TABLE IF NOT EXISTS configurations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  organization_id uuid NOT NULL
    CONSTRAINT configurations_organization_id_organizations_id_fk REFERENCES organizations (id) ON DELETE CASCADE,
  name varchar(255) NOT NULL,
  content jsonb DEFAULT '{}'::jsonb NOT NULL,
  version integer DEFAULT 1 NOT NULL,
  created_by uuid
    CONSTRAINT configurations_created_by_users_id_fk REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamp with time zone DEFAULT now() NOT NULL,
  updated_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE INDEX IF NOT EXISTS configurations_organization_id_idx ON configurations USING btree (organization_id);
CREATE INDEX IF NOT EXISTS configurations_created_by_idx ON configurations USING btree (created_by);
