// Helpers of the schema tests: a login role that owns a test database, and a schema's state.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { withAdminClient, withClientAt, type TestDatabase } from '../support/database.ts';
import { rowSnapshot, type RowSnapshot } from '../support/rows.ts';

export interface LoginRole {
  name: string;
  password: string;
  /** The test database, as this role. */
  url: string;
}

const made = new Set<string>();

export const createdRoles = {
  /** Drops every role made by loginRole (after the databases they own are gone). */
  async dropAll(): Promise<void> {
    for (const name of made) {
      await withAdminClient(async (c) => {
        await c.query(`drop owned by ${c.escapeIdentifier(name)}`).catch(() => {});
        await c.query(`drop role if exists ${c.escapeIdentifier(name)}`);
      });
      made.delete(name);
    }
  },
};

/** A role that logs in with a password and owns the database (so it can create schemas and tables there). */
export async function loginRole(
  db: TestDatabase,
  password = `pw-${randomBytes(6).toString('hex')}`,
): Promise<LoginRole> {
  const name = `upkit_r_${randomBytes(4).toString('hex')}`;
  await withAdminClient(async (c) => {
    await c.query(`create role ${c.escapeIdentifier(name)} login password ${c.escapeLiteral(password)}`);
    made.add(name);
    await c.query(`alter database ${c.escapeIdentifier(db.database)} owner to ${c.escapeIdentifier(name)}`);
  });
  const url = new URL(db.url);
  url.username = encodeURIComponent(name);
  url.password = encodeURIComponent(password);
  return { name, password, url: url.toString() };
}

export interface SchemaState {
  fingerprint: string[];
  rows: RowSnapshot;
}

export function schemaState(url: string, schema: string): Promise<SchemaState> {
  return withClientAt(url, async (c: pg.Client) => ({
    fingerprint: await schemaFingerprint(c, schema),
    rows: await rowSnapshot(c, schema),
  }));
}
