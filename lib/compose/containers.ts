// After the database is migrated and verified: rebuild Pulse's images, recreate its
// containers, wait until they run (healthy where they have a health check), and check that
// each runs the image just built. Anything else is exit 6 with the failing services' logs.
import type { Config } from '../config.ts';
import { UpkitError } from '../errors.ts';
import { formatDuration, type Logger } from '../log.ts';
import { composeTimeoutMs } from '../health/settings.ts';
import {
  composeCommandLine,
  detectCompose,
  lastLines,
  parseComposeVersion,
  runCompose,
  type ComposeCli,
} from './cli.ts';
import { containersError, ContainersError, printLogs, serviceLogs, type ServiceFailure } from './failure.ts';
import { checkImages } from './images.ts';
import { judge, label, PsParseError } from './ps.ts';
import { listContainers, startAndWait } from './wait.ts';

export interface ServiceResult {
  service: string;
  name: string;
  state: string;
  health: string;
  /** The image the container runs (`sha256:…`), when it could be inspected. */
  imageId: string | null;
}

export interface ContainersResult {
  status: 'ok' | 'skipped';
  /** Why it was skipped, or what was done. */
  detail: string;
  /** e.g. `docker compose 2.29.7`; null when skipped. */
  compose: string | null;
  waitedBy: 'wait' | 'poll' | null;
  /** False when the docker CLI was missing, so images could not be compared. */
  imagesChecked: boolean;
  services: ServiceResult[];
  durationMs: number;
}

export interface RebuildOptions {
  signal?: AbortSignal;
  /** Overall wait for running/healthy; default COMPOSE_TIMEOUT (ms), else 300000. */
  timeoutMs?: number;
  /** Between two `ps` when the CLI has no `up --wait`; default 2000. */
  pollIntervalMs?: number;
  /** The CLI to use; default: detected (`docker compose`, else `docker-compose`). */
  cli?: ComposeCli;
}

function problem(code: string, message: string, hint: string, details: string[] = []): UpkitError {
  return new UpkitError({ code, exit: 'health', message, hint, details });
}

async function requireCli(given: ComposeCli | undefined, composeFile: string): Promise<ComposeCli> {
  const cli = given ?? (await detectCompose());
  if (!cli) {
    throw problem(
      'compose.missing',
      'COMPOSE_FILE is set but neither "docker compose" nor "docker-compose" works here',
      `install Docker Compose v2, or run again with --no-containers and start the ` +
        `platform yourself: ${composeCommandLine(undefined, composeFile)} up -d --build`,
    );
  }
  const v = parseComposeVersion(cli.version);
  if (v && v[0] < 2) {
    throw problem(
      'compose.unsupported',
      `${cli.command} ${cli.version} cannot be used: upkit needs Docker Compose v2 (ps --format json)`,
      `install the Docker Compose v2 plugin, or rebuild by hand: ` +
        `${composeCommandLine(cli, composeFile)} up -d --build, then run: npx zx scripts/health.ts`,
    );
  }
  return cli;
}

async function configList(
  cli: ComposeCli,
  composeFile: string,
  flag: '--services' | '--images',
  signal?: AbortSignal,
): Promise<string[]> {
  const r = await runCompose(cli, composeFile, ['config', flag], { signal, timeoutMs: 60_000 });
  if (r.code !== 0) {
    throw problem(
      'compose.config',
      `${composeCommandLine(cli, composeFile)} config failed: ${lastLines(r.stderr, 1)[0] ?? `exit code ${r.code}`}`,
      `run: ${composeCommandLine(cli, composeFile)} config`,
    );
  }
  return r.stdout
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function rebuildContainers(
  config: Pick<Config, 'composeFile' | 'envFile'>,
  log: Logger,
  options: RebuildOptions = {},
): Promise<ContainersResult> {
  const started = performance.now();
  const { signal } = options;
  const composeFile = config.composeFile;
  if (!composeFile) {
    return {
      status: 'skipped',
      detail: 'COMPOSE_FILE not set',
      compose: null,
      waitedBy: null,
      imagesChecked: false,
      services: [],
      durationMs: 0,
    };
  }
  const timeoutMs = options.timeoutMs ?? composeTimeoutMs(config);
  const cli = await requireCli(options.cli, composeFile);
  const cmd = composeCommandLine(cli, composeFile);
  const compose = `${[cli.command, ...cli.baseArgs].join(' ')} ${cli.version}`;

  const { services, images } = await log.step('build images', async (s) => {
    const project = {
      services: await configList(cli, composeFile, '--services', signal),
      images: await configList(cli, composeFile, '--images', signal),
    };
    const r = await runCompose(cli, composeFile, ['build', '--pull'], {
      signal,
      onLine: (line) => {
        log.debug(`compose build: ${line}`);
        s.progress(line.trim().slice(0, 100));
      },
    });
    if (r.code !== 0) {
      throw problem(
        'compose.build',
        `${cmd} build --pull failed with exit code ${r.code}: ${lastLines(r.stderr || r.stdout, 1)[0] ?? 'no output'}`,
        `run: ${cmd} build --pull to see the whole output; the running containers were not changed`,
        lastLines(`${r.stdout}\n${r.stderr}`, 20),
      );
    }
    s.detail(
      `${project.services.length} service${project.services.length === 1 ? '' : 's'}: ${project.services.join(', ')}`,
    );
    return project;
  });

  const outcome = await log.step('start containers', async (s) => {
    const o = await startAndWait(cli, composeFile, services, log, s, {
      timeoutMs,
      pollIntervalMs: options.pollIntervalMs ?? 2000,
      signal,
    });
    s.detail(o.method === 'wait' ? 'up --wait' : 'up, then polled ps (this compose has no --wait)');
    if (o.problem) s.warn(o.problem);
    return o;
  });

  try {
    return await log.step('check containers', async (s) => {
      let containers: Awaited<ReturnType<typeof listContainers>>;
      try {
        containers = await listContainers(cli, composeFile, signal);
      } catch (err) {
        if (!(err instanceof PsParseError)) throw err;
        throw problem('compose.ps', `cannot read ${cmd} ps --all --format json: ${err.message}`, `run: ${cmd} ps`);
      }
      const verdicts = judge(services, containers, true);
      const ready = verdicts.filter((v) => v.ready);
      const imageCheck = await checkImages(ready, images, { signal });
      if (imageCheck.note) log.warn(imageCheck.note);
      const failing: Array<Omit<ServiceFailure, 'logs'>> = [
        ...verdicts.filter((v) => !v.ready).map((v) => ({ service: v.service, label: label(v, verdicts), why: v.why })),
        ...imageCheck.stale.map((st) => {
          const v = verdicts.find((x) => x.service === st.service && x.name === st.name);
          return { service: st.service, label: v ? label(v, verdicts) : st.service, why: st.why };
        }),
      ];
      if (failing.length > 0 || outcome.problem) {
        const failures: ServiceFailure[] = [];
        for (const f of failing)
          failures.push({
            ...f,
            logs: f.why.startsWith('runs ') ? [] : await serviceLogs(cli, composeFile, f.service, signal),
          });
        throw containersError(cli, composeFile, failures, outcome.problem);
      }
      s.detail(
        `${ready.length} container${ready.length === 1 ? '' : 's'} ` +
          `running${imageCheck.checked ? ' the images just built' : ''}`,
      );
      return {
        status: 'ok' as const,
        detail:
          `${verdicts.map((v) => `${v.service} ${v.why}`).join(', ')}` +
          ` (${formatDuration(performance.now() - started)})`,
        compose,
        waitedBy: outcome.method,
        imagesChecked: imageCheck.checked,
        services: verdicts.map((v) => ({
          service: v.service,
          name: v.name,
          state: v.container?.state ?? '',
          health: v.container?.health ?? '',
          imageId:
            imageCheck.imageIds.get(v.container?.id ?? '') ??
            [...imageCheck.imageIds].find(([id]) => v.container?.id && id.startsWith(v.container.id))?.[1] ??
            null,
        })),
        durationMs: Math.round(performance.now() - started),
      };
    });
  } catch (err) {
    if (err instanceof ContainersError) printLogs(log, err.failures);
    throw err;
  }
}
