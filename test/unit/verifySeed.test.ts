import { describe, expect, it } from 'vitest';
import type { ActualSchema } from '../../verify/model.ts';
import { pulseProfile } from '../../profiles/pulse.ts';
import { seedBlockers, seedFindings, type SeedState } from '../../verify/seed.ts';

const clean: SeedState = {
  organizations: 4,
  users: 40,
  permissions: 25,
  adminGrants: 25,
  orgsMissingFlags: 0,
  missingFlags: [],
  disabled: [],
  oddValues: [],
  missingPermissions: [],
  missingRoles: [],
  adminMissing: [],
};
const expected = pulseProfile().seed;

describe('seed findings', () => {
  it("expects Pulse's latest flags, permissions and roles", () => {
    expect(expected.flags).toEqual(['configurations', 'awsIntegrations', 'discovery', 'apiKeys', 'auditLogs']);
    expect(expected.permissions).toHaveLength(25);
    expect(expected.systemRoles).toEqual(['admin', 'member', 'viewer']);
  });

  it('shows counts only when all is there', () => {
    expect(seedFindings(clean, expected)).toEqual([
      {
        area: 'seed data',
        severity: 'info',
        code: 'seed.counts',
        message: '4 organizations, 40 users, 25 permissions (25 expected), 25 grants to admin',
        hint: null,
      },
    ]);
  });

  it('names organizations missing flags (then counts the rest), keeps an operator false as a note', () => {
    const s: SeedState = {
      ...clean,
      orgsMissingFlags: 25,
      missingFlags: [
        { slug: 'acme', missing: ['apiKeys'] },
        { slug: 'globex', missing: ['apiKeys', 'auditLogs'] },
      ],
      disabled: [{ flag: 'awsIntegrations', count: 12, slugs: ['a', 'b'] }],
      oddValues: [{ flag: 'discovery', count: 1, slugs: ['c'] }],
    };
    expect(seedFindings(s, expected).map((f) => [f.severity, f.code, f.message])).toEqual([
      ['error', 'seed.flag_missing', 'organization acme lacks feature flag apiKeys'],
      ['error', 'seed.flag_missing', 'organization globex lacks feature flags apiKeys, auditLogs'],
      ['error', 'seed.flag_missing', '23 more organizations lack feature flags (the first 2 are listed)'],
      [
        'info',
        'seed.flag_disabled',
        "feature flag awsIntegrations is off in 12 organizations (a, b, … 10 more): an operator's choice, kept",
      ],
      ['warning', 'seed.flag_value', 'feature flag discovery is neither true nor false in 1 organization (c)'],
      ['info', 'seed.counts', '4 organizations, 40 users, 25 permissions (25 expected), 25 grants to admin'],
    ]);
  });

  it('names missing permissions, roles and admin grants', () => {
    const s: SeedState = {
      ...clean,
      missingPermissions: [['api_keys', 'write']],
      missingRoles: ['viewer'],
      adminMissing: [['users', 'delete']],
    };
    const f = seedFindings(s, expected);
    expect(f.filter((x) => x.severity === 'error').map((x) => [x.code, x.message])).toEqual([
      ['seed.permission_missing', 'permission api_keys:write is missing'],
      ['seed.role_missing', 'system role viewer is missing'],
      ['seed.admin_grant_missing', 'system role admin lacks permission users:delete'],
    ]);
    for (const x of f.filter((y) => y.severity === 'error')) expect(x.hint).toMatch(/^run: npx zx upgrade\.ts/);
  });

  it('does not query seed tables a damaged schema lacks', () => {
    const catalog: ActualSchema = {
      schemas: ['public'],
      tables: [],
      enums: [],
      sequences: [],
      views: [],
      policies: [],
    };
    expect(seedBlockers(catalog)).toEqual([
      'table organizations is missing',
      'table users is missing',
      'table permissions is missing',
      'table roles is missing',
      'table role_permissions is missing',
    ]);
  });
});
