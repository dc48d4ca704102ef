// Checks of the host a containerised install needs, beyond the database's: a working
// Docker engine and Compose, enough memory, and the ports the compose file publishes
// being free (a port already taken makes `up` fail half-way).
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { totalmem } from 'node:os';
import { promisify } from 'node:util';
import { composeArgs, detectCompose } from '../compose.ts';
import type { Finding } from '../report.ts';

const run = promisify(execFile);

export const MIN_MEMORY_BYTES = 2 * 1024 ** 3;

/** True when nothing listens on the port (on all addresses). */
export function portIsFree(port: number, host = '0.0.0.0'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Published host ports of `docker compose config --format json`. */
export function publishedPorts(configJson: string): Array<{ service: string; port: number }> {
  const config = JSON.parse(configJson) as {
    services?: Record<string, { ports?: Array<{ published?: string | number } | string> }>;
  };
  const out: Array<{ service: string; port: number }> = [];
  for (const [service, def] of Object.entries(config.services ?? {})) {
    for (const p of def.ports ?? []) {
      const published = typeof p === 'string' ? /^(?:[\d.]+:)?(\d+):\d+/.exec(p)?.[1] : p.published;
      const port = Number(published);
      if (Number.isInteger(port) && port > 0) out.push({ service, port });
    }
  }
  return out;
}

/** `minMemory`: what the containers need (Pulse's 2 GiB); null: not checked. */
export async function hostChecks(
  composeFile: string,
  memory = totalmem(),
  minMemory: number | null = MIN_MEMORY_BYTES,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (severity: Finding['severity'], code: string, message: string, hint: string | null = null) =>
    findings.push({ severity, code, message, hint });
  const cli = await detectCompose();
  if (!cli) {
    add(
      'error',
      'install.compose',
      'COMPOSE_FILE is set but neither "docker compose" nor "docker-compose" works here',
      'install Docker Engine with the Compose plugin, or run with --no-containers',
    );
    return findings;
  }
  try {
    const { stdout } = await run('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: 15_000 });
    add(
      'info',
      'install.docker',
      `Docker engine ${stdout.trim()}, ${cli.command}` +
        `${cli.baseArgs.length ? ` ${cli.baseArgs.join(' ')}` : ''} ${cli.version}`,
    );
  } catch {
    add(
      'error',
      'install.docker',
      'the Docker engine does not answer (docker version failed)',
      'start it (systemctl start docker) and check that this user may use it, or run with --no-containers',
    );
  }
  if (minMemory !== null && memory < minMemory) {
    add(
      'error',
      'install.memory',
      `this host has ${(memory / 1024 ** 3).toFixed(1)} GiB of memory; Pulse's containers need at least 2 GiB`,
      'run on a larger host',
    );
  }
  try {
    const { stdout } = await run(cli.command, composeArgs(cli, composeFile, ['config', '--format', 'json']), {
      timeout: 30_000,
      maxBuffer: 16 << 20,
    });
    for (const { service, port } of publishedPorts(stdout)) {
      if (!(await portIsFree(port)))
        add(
          'error',
          'install.port',
          `port ${port}, which service ${service} publishes, is already in use on this host`,
          `stop what listens there (ss -ltnp 'sport = :${port}') or change the port in ${composeFile}`,
        );
    }
  } catch {
    add(
      'warning',
      'install.ports_unknown',
      `could not read the published ports from ${composeFile} (docker compose config --format json failed)`,
      'check them by hand before starting',
    );
  }
  return findings;
}
