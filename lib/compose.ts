// Docker Compose: the CLI (detectCompose, composeArgs, execInService, used by preflight and
// backup) and the container phase of install and upgrade (rebuildContainers). The code lives
// in lib/compose/; this module is the one place others import it from.
export {
  composeArgs,
  composeCommandLine,
  detectCompose,
  execInService,
  libpqExecArgs,
  parseComposeVersion,
  supportsWait,
  type ComposeCli,
} from './compose/cli.ts';
export {
  rebuildContainers,
  type ContainersResult,
  type RebuildOptions,
  type ServiceResult,
} from './compose/containers.ts';
export { ContainersError, type ServiceFailure } from './compose/failure.ts';
export { parsePs, readiness, type ComposeContainer, type Readiness } from './compose/ps.ts';
