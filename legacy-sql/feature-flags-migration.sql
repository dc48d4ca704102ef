-- Pulse v1.1: per-organization feature flags.
-- Idempotent: running it again, or on a database at any later release, changes nothing.
-- Flags are merged: a key an organization already has (true or false) is kept.

ALTER TABLE organizations ADD COLUMN IF NOT EXISTS features_enabled jsonb DEFAULT '{}'::jsonb NOT NULL;

-- BEGIN upkit seed v1.1 (generated from drizzle/seed.ts by `npm run content:build`; do not edit)
UPDATE organizations
   SET features_enabled = jsonb_build_object('configurations', true, 'awsIntegrations', true) || features_enabled
 WHERE NOT (features_enabled ?& ARRAY['configurations', 'awsIntegrations']);
-- END upkit seed
