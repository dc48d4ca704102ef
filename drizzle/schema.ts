// Pulse's database schema at the latest release. drizzle-kit generates the migrations in
// this folder from it (npm run db:generate); PLATFORM.md tells what each release brought.
// Names of constraints and indexes are spelled out so that the legacy SQL files, written
// by hand, create exactly the same objects.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

// v2.3: integration status became an enum (it was free text before).
export const integrationStatus = pgEnum('integration_status', ['active', 'paused', 'error']);

const createdAt = () => timestamp('created_at', { withTimezone: true }).defaultNow().notNull();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).defaultNow().notNull();

export const organizations = pgTable('organizations', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: varchar('name', { length: 255 }).notNull(),
  slug: varchar('slug', { length: 100 }).notNull().unique('organizations_slug_unique'),
  featuresEnabled: jsonb('features_enabled').$type<Record<string, boolean>>().notNull().default({}),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    email: varchar('email', { length: 255 }).notNull(),
    passwordHash: text('password_hash').notNull(),
    name: varchar('name', { length: 255 }),
    role: varchar('role', { length: 50 }).notNull().default('member'),
    isActive: boolean('is_active').notNull().default(true),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true }),
    // v2.3
    preferences: jsonb('preferences').$type<Record<string, unknown>>().notNull().default({}),
    mfaEnabled: boolean('mfa_enabled').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('users_organization_id_idx').on(t.organizationId),
    uniqueIndex('users_email_lower_idx').on(sql`lower(${t.email})`),
  ],
);

export const awsIntegrations = pgTable(
  'aws_integrations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: varchar('name', { length: 255 }).notNull(),
    roleArn: text('role_arn').notNull(),
    externalId: varchar('external_id', { length: 255 }),
    regions: jsonb('regions').$type<string[]>().notNull().default([]),
    status: integrationStatus('status').notNull().default('active'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('aws_integrations_organization_id_idx').on(t.organizationId)],
);

export const configurations = pgTable(
  'configurations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: varchar('name', { length: 255 }).notNull(),
    content: jsonb('content').notNull().default({}),
    version: integer('version').notNull().default(1),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('configurations_organization_id_idx').on(t.organizationId),
    index('configurations_created_by_idx').on(t.createdBy),
  ],
);

export const roles = pgTable(
  'roles',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // null for the system roles every organization shares
    organizationId: uuid('organization_id').references(() => organizations.id, { onDelete: 'cascade' }),
    name: varchar('name', { length: 100 }).notNull(),
    description: text('description'),
    isSystem: boolean('is_system').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('roles_organization_name_idx').on(t.organizationId, t.name),
    uniqueIndex('roles_system_name_idx').on(t.name).where(sql`${t.organizationId} is null`),
  ],
);

export const permissions = pgTable(
  'permissions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    resource: varchar('resource', { length: 100 }).notNull(),
    action: varchar('action', { length: 50 }).notNull(),
    description: text('description'),
    createdAt: createdAt(),
  },
  (t) => [unique('permissions_resource_action_unique').on(t.resource, t.action)],
);

export const rolePermissions = pgTable(
  'role_permissions',
  {
    roleId: uuid('role_id')
      .notNull()
      .references(() => roles.id, { onDelete: 'cascade' }),
    permissionId: uuid('permission_id')
      .notNull()
      .references(() => permissions.id, { onDelete: 'cascade' }),
  },
  (t) => [
    primaryKey({ name: 'role_permissions_pkey', columns: [t.roleId, t.permissionId] }),
    index('role_permissions_permission_id_idx').on(t.permissionId),
  ],
);

export const userRoles = pgTable(
  'user_roles',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    roleId: uuid('role_id')
      .notNull()
      .references(() => roles.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'user_roles_pkey', columns: [t.userId, t.roleId] }),
    index('user_roles_role_id_idx').on(t.roleId),
  ],
);

export const discoverySessions = pgTable(
  'discovery_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    integrationId: uuid('integration_id').references(() => awsIntegrations.id, { onDelete: 'set null' }),
    name: varchar('name', { length: 255 }).notNull(),
    description: text('description'),
    provider: varchar('provider', { length: 50 }).notNull().default('aws'),
    regions: jsonb('regions').$type<string[]>().notNull(),
    status: varchar('status', { length: 50 }).notNull().default('pending'),
    resourceCount: integer('resource_count').notNull().default(0),
    metadata: jsonb('metadata').notNull().default({}),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('discovery_sessions_organization_id_idx').on(t.organizationId),
    index('discovery_sessions_integration_id_idx').on(t.integrationId),
    index('discovery_sessions_created_by_idx').on(t.createdBy),
  ],
);

export const discoveryResources = pgTable(
  'discovery_resources',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => discoverySessions.id, { onDelete: 'cascade' }),
    resourceType: varchar('resource_type', { length: 255 }).notNull(),
    resourceId: varchar('resource_id', { length: 512 }).notNull(),
    region: varchar('region', { length: 50 }),
    arn: text('arn'),
    name: varchar('name', { length: 512 }),
    tags: jsonb('tags').notNull().default({}),
    properties: jsonb('properties').notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [index('discovery_resources_session_id_idx').on(t.sessionId)],
);

export const discoveryCodeGenerations = pgTable(
  'discovery_code_generations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => discoverySessions.id, { onDelete: 'cascade' }),
    format: varchar('format', { length: 50 }).notNull(),
    code: text('code'),
    resourceIds: jsonb('resource_ids').$type<string[]>().notNull().default([]),
    status: varchar('status', { length: 50 }).notNull().default('pending'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    index('discovery_code_generations_session_id_idx').on(t.sessionId),
    index('discovery_code_generations_created_by_idx').on(t.createdBy),
    check('discovery_code_generations_format_check', sql`${t.format} in ('terraform', 'cloudformation', 'pulumi')`),
  ],
);

// v2.1
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: varchar('name', { length: 255 }).notNull(),
    keyHash: text('key_hash').notNull(),
    prefix: varchar('prefix', { length: 16 }).notNull(),
    scopes: jsonb('scopes').$type<string[]>().notNull().default([]),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('api_keys_key_hash_idx').on(t.keyHash),
    index('api_keys_organization_id_idx').on(t.organizationId),
    index('api_keys_created_by_idx').on(t.createdBy),
  ],
);

// v2.2
export const auditLogs = pgTable(
  'audit_logs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    actorId: uuid('actor_id').references(() => users.id, { onDelete: 'set null' }),
    action: varchar('action', { length: 100 }).notNull(),
    targetType: varchar('target_type', { length: 100 }),
    targetId: text('target_id'),
    metadata: jsonb('metadata').notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    // Built concurrently: on a busy install the table may already be large when this lands.
    index('audit_logs_organization_created_idx').on(t.organizationId, t.createdAt).concurrently(),
    index('audit_logs_actor_id_idx').on(t.actorId),
  ],
);
