// How to recognise each Pulse release in a database's catalog: the objects it introduced.
// v2.0 brought no object of its own (its 0000 is the v1.4 schema), so only drizzle's
// ledger tells a v2.0 install from a v1.4 one.
import type { ReleaseProbe } from '../lib/release.ts';

export const PULSE_RELEASE_PROBES: readonly ReleaseProbe[] = [
  { release: 'v1.0', requires: { tables: ['organizations', 'users', 'aws_integrations', 'configurations'] } },
  { release: 'v1.1', requires: { columns: ['organizations.features_enabled'] } },
  { release: 'v1.2', requires: { tables: ['roles', 'permissions', 'role_permissions', 'user_roles'] } },
  {
    release: 'v1.3',
    requires: { indexes: ['users_email_lower_idx'] },
    absent: { constraints: ['users_email_unique'] },
  },
  {
    release: 'v1.4',
    requires: { tables: ['discovery_sessions', 'discovery_resources', 'discovery_code_generations'] },
  },
  { release: 'v2.0', requires: { drizzleTags: ['0000_init'] } },
  { release: 'v2.1', requires: { tables: ['api_keys'] } },
  { release: 'v2.2', requires: { tables: ['audit_logs'], indexes: ['audit_logs_organization_created_idx'] } },
  { release: 'v2.3', requires: { enums: ['integration_status'], columns: ['users.preferences', 'users.mfa_enabled'] } },
];
