-- upkit:requires-role pulse_support
-- The read-only support role that runs verify (README, "verify"): CONNECT, USAGE on public,
-- drizzle and upkit, SELECT on their tables, and on the tables made later by this role (the
-- migrations). upkit applies this file only where an administrator has created the role:
--   CREATE ROLE pulse_support LOGIN PASSWORD '…';
-- and again whenever the file, or one of these grants, changes.
DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO pulse_support', current_database()); END $$;
GRANT USAGE ON SCHEMA public, drizzle, upkit TO pulse_support;
GRANT SELECT ON ALL TABLES IN SCHEMA public, drizzle, upkit TO pulse_support;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, drizzle, upkit GRANT SELECT ON TABLES TO pulse_support;
