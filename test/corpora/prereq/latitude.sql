-- Latitude runs its migrations as a role named "latitude", so the default
-- search_path ("$user", public) resolves unqualified references to enums in the
-- "latitude" schema (drizzle-kit emitted some ADD COLUMN types without schema).
-- Minimal equivalent without creating that role:
DO $do$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET search_path = "$user", latitude, public', current_database());
END $do$;
