// The running platform, when it is configured: every HEALTHCHECK_URLS endpoint answers 2xx
// within 5 s, and every compose service is running (and healthy when it has a health check).
// Unconfigured is "not checked", said as such, never a silent pass.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  composeArgs,
  composeCommandLine,
  detectCompose,
  parsePs,
  type ComposeCli,
  type ComposeContainer as ParsedContainer,
} from '../lib/compose.ts';
import { displayUrl, endpoint } from '../lib/health/probe.ts';
import { finding, type VerifyFinding } from './model.ts';

const run = promisify(execFile);
export const ENDPOINT_TIMEOUT_MS = 5000;

// Showing a URL without its secrets, and turning its credentials into Basic authentication,
// are the health checks' own (lib/health/probe.ts); verification uses the same code.
export { displayUrl };

export async function checkEndpoint(raw: string, timeoutMs = ENDPOINT_TIMEOUT_MS): Promise<VerifyFinding> {
  const { shown, url, headers } = endpoint(raw);
  const started = performance.now();
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    await res.body?.cancel().catch(() => {});
    const ms = Math.round(performance.now() - started);
    if (res.ok) return finding('runtime', 'info', 'runtime.endpoint', `${shown} answered ${res.status} in ${ms} ms`);
    return finding(
      'runtime',
      'error',
      'runtime.endpoint',
      `${shown} answered ${res.status} ${res.statusText} in ${ms} ms`,
      `look at the service behind it (docker compose logs), then run: npx zx verify/index.ts`,
    );
  } catch (err) {
    const ms = Math.round(performance.now() - started);
    const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    const why =
      e.name === 'TimeoutError'
        ? `no answer within ${timeoutMs >= 1000 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`}`
        : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
    return finding(
      'runtime',
      'error',
      'runtime.endpoint',
      `${shown} failed after ${ms} ms: ${why}`,
      'check that the platform is started (docker compose ps) and that HEALTHCHECK_URLS points at it',
    );
  }
}

/** What verification reads of a container (the compose layer reads more). */
export type ComposeContainer = Pick<ParsedContainer, 'service' | 'name' | 'state' | 'health' | 'exitCode' | 'status'>;

/** `ps --format json`, in both shapes Compose prints, parsed by the compose layer's parser. */
export function parseComposePs(stdout: string): ComposeContainer[] {
  return parsePs(stdout).map(({ service, name, state, health, exitCode, status }) => ({
    service,
    name,
    state,
    health,
    exitCode,
    status,
  }));
}

/** Pure: one finding per service, from the services compose defines and its containers. */
export function serviceFindings(
  services: readonly string[],
  containers: readonly ComposeContainer[],
  composeFile: string,
): VerifyFinding[] {
  const out: VerifyFinding[] = [];
  const names = [...new Set([...services, ...containers.map((c) => c.service)])];
  const cmd = composeCommandLine(undefined, composeFile);
  for (const service of names) {
    const mine = containers.filter((c) => c.service === service);
    if (mine.length === 0) {
      out.push(
        finding(
          'runtime',
          'error',
          'runtime.service',
          `service ${service} has no container`,
          `run: ${cmd} up -d ${service}`,
        ),
      );
      continue;
    }
    for (const c of mine) {
      const label = mine.length > 1 ? `service ${service} (${c.name})` : `service ${service}`;
      const status = c.status ? ` (${c.status})` : '';
      if (c.state === 'running' && (c.health === '' || c.health === 'healthy')) {
        out.push(
          finding(
            'runtime',
            'info',
            'runtime.service',
            `${label} is running${c.health ? ' and healthy' : ''}${status}`,
          ),
        );
      } else if (c.state === 'running' && c.health === 'starting') {
        out.push(
          finding(
            'runtime',
            'warning',
            'runtime.service',
            `${label} is running, its health check is still starting${status}`,
            'wait a minute, then run: npx zx verify/index.ts',
          ),
        );
      } else if (c.state === 'exited' && c.exitCode === 0) {
        out.push(
          finding(
            'runtime',
            'warning',
            'runtime.service',
            `${label} exited with code 0${status}: fine for a one-off job, not for a server`,
            `run: ${cmd} up -d ${service} if it should be running`,
          ),
        );
      } else {
        const what =
          c.state === 'running'
            ? `is ${c.health || 'unhealthy'}`
            : c.state === 'exited'
              ? `exited with code ${c.exitCode ?? 'unknown'}`
              : `is ${c.state || 'in an unknown state'}`;
        out.push(
          finding(
            'runtime',
            'error',
            'runtime.service',
            `${label} ${what}${status}`,
            `see why: ${cmd} logs --tail 100 ${service}`,
          ),
        );
      }
    }
  }
  return out;
}

export async function checkCompose(composeFile: string, cli?: ComposeCli): Promise<VerifyFinding[]> {
  const found = cli ?? (await detectCompose());
  if (!found) {
    return [
      finding(
        'runtime',
        'error',
        'runtime.compose',
        `COMPOSE_FILE is set, but neither docker compose nor docker-compose works here`,
        'install Docker Compose, or unset COMPOSE_FILE to skip the container checks',
      ),
    ];
  }
  try {
    const [config, ps] = await Promise.all([
      run(found.command, composeArgs(found, composeFile, ['config', '--services']), { timeout: 15_000 }),
      run(found.command, composeArgs(found, composeFile, ['ps', '--all', '--format', 'json']), {
        timeout: 15_000,
        maxBuffer: 16 * 1024 * 1024,
      }),
    ]);
    const services = config.stdout
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    return serviceFindings(services, parseComposePs(ps.stdout), composeFile);
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    const why = (e.stderr || e.message || String(err)).trim().split('\n')[0];
    return [
      finding(
        'runtime',
        'error',
        'runtime.compose',
        `${found.command} ${found.baseArgs.join(' ')} failed for ${composeFile}: ${why}`,
        'check that the Docker engine runs (docker info) and the compose file is valid (docker compose config)',
      ),
    ];
  }
}

export interface RuntimeConfig {
  healthcheckUrls: readonly string[];
  composeFile: string | undefined;
}

/** Endpoints and containers, concurrently; `checked` is false when nothing is configured. */
export async function checkRuntime(config: RuntimeConfig): Promise<{ findings: VerifyFinding[]; checked: boolean }> {
  if (!config.healthcheckUrls.length && !config.composeFile) {
    return {
      findings: [
        finding(
          'runtime',
          'info',
          'runtime.not_configured',
          'runtime not checked: HEALTHCHECK_URLS and COMPOSE_FILE are not set',
        ),
      ],
      checked: false,
    };
  }
  const [endpoints, compose] = await Promise.all([
    Promise.all(config.healthcheckUrls.map((u) => checkEndpoint(u))),
    config.composeFile ? checkCompose(config.composeFile) : Promise.resolve([]),
  ]);
  const findings = [...endpoints, ...compose];
  if (!config.healthcheckUrls.length)
    findings.push(
      finding('runtime', 'info', 'runtime.not_configured', 'endpoints not checked: HEALTHCHECK_URLS is not set'),
    );
  if (!config.composeFile)
    findings.push(
      finding('runtime', 'info', 'runtime.not_configured', 'containers not checked: COMPOSE_FILE is not set'),
    );
  return { findings, checked: true };
}
