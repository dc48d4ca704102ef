CREATE TYPE "public"."integration_status" AS ENUM('active', 'paused', 'error');--> statement-breakpoint
-- Hand-edited: drizzle-kit casts every stored status straight to the enum (which fails on
-- any value outside it) and sets the enum default while the column is still text (which
-- fails too). Instead: values are trimmed and lower-cased, anything still outside the enum
-- becomes 'error', and every row whose status changes is first recorded in audit_logs with
-- its old value, so nothing is lost and the operator is told.
DO $$
DECLARE
  changed integer;
BEGIN
  INSERT INTO "audit_logs" ("organization_id", "action", "target_type", "target_id", "metadata")
  SELECT "organization_id", 'integration.status_converted', 'aws_integration', "id"::text,
         jsonb_build_object('from', "status", 'to', CASE WHEN lower(btrim("status")) IN ('active', 'paused', 'error') THEN lower(btrim("status")) ELSE 'error' END, 'migration', '0003_integration_status_enum')
    FROM "aws_integrations"
   WHERE "status" NOT IN ('active', 'paused', 'error');
  GET DIAGNOSTICS changed = ROW_COUNT;
  IF changed > 0 THEN
    RAISE NOTICE 'aws_integrations.status: % row(s) held a value outside (active, paused, error); converted and recorded in audit_logs (action integration.status_converted)', changed;
  END IF;
END $$;--> statement-breakpoint
ALTER TABLE "aws_integrations" ALTER COLUMN "status" DROP DEFAULT;--> statement-breakpoint
-- upkit:safe the type change keeps every value; those outside the enum were recorded above and become 'error'
ALTER TABLE "aws_integrations" ALTER COLUMN "status" SET DATA TYPE "public"."integration_status" USING (CASE WHEN lower(btrim("status")) IN ('active', 'paused', 'error') THEN lower(btrim("status")) ELSE 'error' END)::"public"."integration_status";--> statement-breakpoint
ALTER TABLE "aws_integrations" ALTER COLUMN "status" SET DEFAULT 'active'::"public"."integration_status";--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "preferences" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "mfa_enabled" boolean DEFAULT false NOT NULL;
