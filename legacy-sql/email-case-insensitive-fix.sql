-- Pulse v1.3: email addresses are case-insensitive.
-- Lower-cases users.email and replaces the plain unique constraint with a unique index on
-- lower(email). Two users whose emails differ only by case cannot both survive this, and
-- only a person can decide which one should: the file then stops before changing
-- anything, listing them.
-- Idempotent: running it again, or on a database at any later release, changes nothing.

DO $$
DECLARE
  clashes text;
BEGIN
  SELECT string_agg(accounts, '; ' ORDER BY accounts)
    INTO clashes
    FROM (SELECT string_agg(format('%s (organization %s)', u.email, o.slug), ' and ' ORDER BY u.email) AS accounts
            FROM users u
            JOIN organizations o ON o.id = u.organization_id
           GROUP BY lower(u.email)
          HAVING count(*) > 1) AS dup;
  IF clashes IS NOT NULL THEN
    RAISE EXCEPTION 'users whose emails differ only by case: %', clashes
      USING ERRCODE = 'unique_violation',
            HINT = 'decide which account of each pair survives, change or remove the other, then run the upgrade again; nothing was changed';
  END IF;
END $$;

UPDATE users SET email = lower(email) WHERE email <> lower(email);

ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_unique;
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_idx ON users USING btree (lower(email));
