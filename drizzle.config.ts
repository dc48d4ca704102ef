// drizzle-kit's configuration for Pulse's schema (npm run db:generate, db:check, db:studio).
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './drizzle/schema.ts',
  out: './drizzle',
  breakpoints: true,
  // db:studio needs a database; the other commands work from the files alone.
  dbCredentials: {
    url: process.env.DIRECT_URL ?? process.env.DATABASE_URL ?? 'postgres://localhost:5432/config_management',
  },
});
