// Health after an install or upgrade: endpoints started and healthy, database migrated.
// The one place others import it from.
export {
  BACKOFF,
  checkHealth,
  databaseLine,
  endpointLine,
  healthFindings,
  HealthError,
  REQUEST_TIMEOUT_MS,
  type DatabaseHealth,
  type EndpointHealth,
  type HealthConfig,
  type HealthOptions,
  type HealthResult,
} from './check.ts';
export { defaultDatabaseCheck, migrationState, type DatabaseCheck, type MigrationState } from './database.ts';
export { displayUrl, type Attempt } from './probe.ts';
export {
  COMPOSE_TIMEOUT_DEFAULT_MS,
  composeTimeoutMs,
  HEALTH_TIMEOUT_DEFAULT_MS,
  healthTimeoutMs,
  readSetting,
} from './settings.ts';
