import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { applySeed, FEATURE_FLAGS, PERMISSIONS, seedFor } from '../../drizzle/seed.ts';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { useFreshDatabase } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

describe('seed data and the v2.3 status conversion', () => {
  const db = useFreshDatabase();

  async function client(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: db().url });
    await c.connect();
    c.on('notice', () => {});
    return c;
  }

  it("applySeed is idempotent, gives admin every permission, and keeps an operator's choices", async () => {
    await asRelease(db(), 'v2.3');
    const c = await client();
    try {
      await c.query(
        `update organizations set features_enabled = features_enabled || '{"auditLogs": false}' where slug = 'org-1'`,
      );
      await c.query(`delete from role_permissions using roles r, permissions p
                      where role_permissions.role_id = r.id and role_permissions.permission_id = p.id
                        and r.name = 'member' and p.resource = 'configurations' and p.action = 'deploy'`);
      const before = await rowSnapshot(c);
      await applySeed(c, 'v2.3');
      await applySeed(c, 'v2.3');
      expect(await rowSnapshot(c)).toEqual(before);

      const { rows } = await c.query<{ n: number }>(
        `select count(*)::int as n from role_permissions rp join roles r on ` +
          `r.id = rp.role_id where r.name = 'admin' and r.organization_id is null`,
      );
      expect(rows[0]!.n).toBe(PERMISSIONS.length);
      expect(PERMISSIONS.length).toBeGreaterThanOrEqual(20);
      const flags = await c.query<{ slug: string; features_enabled: Record<string, boolean> }>(
        'select slug, features_enabled from organizations order by slug',
      );
      for (const o of flags.rows)
        expect(Object.keys(o.features_enabled).sort()).toEqual(FEATURE_FLAGS.map((f) => f.key).sort());
      expect(flags.rows.find((o) => o.slug === 'org-1')!.features_enabled.auditLogs).toBe(false);
    } finally {
      await c.end();
    }
  });

  it('seedFor lists what each release added', () => {
    expect(seedFor('v1.1', 'v1.0')).toEqual({
      roles: [],
      permissions: [],
      flags: ['configurations', 'awsIntegrations'],
    });
    expect(seedFor('v2.1', 'v2.0').permissions.map((p) => `${p.resource}:${p.action}`)).toEqual([
      'api_keys:read',
      'api_keys:write',
    ]);
    expect(seedFor('v2.2', 'v2.1').flags).toEqual(['auditLogs']);
    expect(seedFor('v2.3').permissions).toHaveLength(PERMISSIONS.length);
  });

  it('0003 converts status to the enum, keeps known values, and records the others in audit_logs', async () => {
    await asRelease(db(), 'v2.2');
    const c = await client();
    try {
      const before = (
        await c.query<{ id: string; status: string }>('select id, status from aws_integrations order by id')
      ).rows;
      expect(new Set(before.map((r) => r.status))).toEqual(
        new Set(['active', 'paused', 'error', 'Active ', 'disabled']),
      );
      const notices: string[] = [];
      c.on('notice', (n) => notices.push(n.message ?? ''));
      await c.query('begin');
      for (const s of readMigrations(DRIZZLE_DIR)[3]!.statements) await c.query(s);
      await c.query('commit');
      const after = new Map(
        (await c.query<{ id: string; status: string }>('select id, status::text from aws_integrations')).rows.map(
          (r) => [r.id, r.status],
        ),
      );
      for (const r of before) {
        const expected = ['active', 'paused', 'error'].includes(r.status.trim().toLowerCase())
          ? r.status.trim().toLowerCase()
          : 'error';
        expect(after.get(r.id)).toBe(expected);
      }
      const odd = before.filter((r) => !['active', 'paused', 'error'].includes(r.status));
      const logged = await c.query<{ target_id: string; metadata: { from: string; to: string } }>(
        `select target_id, metadata from audit_logs where action = 'integration.status_converted'`,
      );
      expect(logged.rows.map((r) => [r.target_id, r.metadata.from, r.metadata.to]).sort()).toEqual(
        odd.map((r) => [r.id, r.status, r.status === 'Active ' ? 'active' : 'error']).sort(),
      );
      expect(notices.some((n) => n.includes(`${odd.length} row(s) held a value outside (active, paused, error)`))).toBe(
        true,
      );
    } finally {
      await c.end();
    }
  });
});
