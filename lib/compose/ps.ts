// `docker compose ps --all --format json`, parsed and judged. Compose 2.21 and later print
// one JSON object per line; 2.0–2.20 print one JSON array (sometimes pretty-printed). Fields
// come and go between versions (Image only from about 2.13), so every one is optional here.

export interface ComposeContainer {
  service: string;
  name: string;
  id: string;
  /** Lower-cased: running, created, restarting, exited, paused, dead, removing. */
  state: string;
  /** Lower-cased: '' (no health check), starting, healthy, unhealthy. */
  health: string;
  image: string;
  exitCode: number | null;
  status: string;
}

export class PsParseError extends Error {
  override readonly name = 'PsParseError';
}

function toContainer(x: unknown): ComposeContainer {
  const o = (x ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
  const name = str(o.Name) || (Array.isArray(o.Names) ? str(o.Names[0]) : str(o.Names));
  const exit = typeof o.ExitCode === 'number' ? o.ExitCode : /^\d+$/.test(str(o.ExitCode)) ? Number(o.ExitCode) : null;
  return {
    service: str(o.Service) || name,
    name,
    id: str(o.ID),
    state: str(o.State).toLowerCase(),
    health: str(o.Health).toLowerCase(),
    image: str(o.Image),
    exitCode: exit,
    status: str(o.Status),
  };
}

/**
 * Both output shapes; lines that are not JSON (a warning some versions print on stdout) are
 * skipped, but output with no JSON at all is an error rather than "no containers".
 */
export function parsePs(stdout: string): ComposeContainer[] {
  const text = stdout.trim();
  if (!text) return [];
  if (text.startsWith('[')) {
    try {
      const items = JSON.parse(text) as unknown;
      if (Array.isArray(items)) return items.map(toContainer);
    } catch {
      // perhaps several arrays or objects, one per line: read line by line below
    }
  }
  const out: ComposeContainer[] = [];
  let understood = false;
  for (const line of text.split(/\r?\n/)) {
    const l = line.trim();
    if (!l.startsWith('{') && !l.startsWith('[')) continue;
    let value: unknown;
    try {
      value = JSON.parse(l);
    } catch {
      continue;
    }
    understood = true;
    for (const item of Array.isArray(value) ? value : [value]) out.push(toContainer(item));
  }
  if (!understood) throw new PsParseError(`not JSON: ${text.split('\n')[0]!.slice(0, 120)}`);
  return out;
}

export type Readiness =
  | { kind: 'ready' }
  /** Not there yet, may still get there: keep waiting until the timeout. */
  | { kind: 'waiting'; why: string }
  /** Will not get there by waiting. */
  | { kind: 'failed'; why: string };

function exited(c: ComposeContainer): string {
  return `exited${c.exitCode === null ? '' : ` with code ${c.exitCode}`}`;
}

/**
 * One container. `unhealthy` fails at once, as `up --wait` does. `exited` is a failure even
 * with code 0: Pulse's services are servers, and upkit runs the migrations itself.
 */
export function readiness(c: ComposeContainer): Readiness {
  switch (c.state) {
    case 'running':
      if (c.health === '' || c.health === 'healthy') return { kind: 'ready' };
      if (c.health === 'starting') return { kind: 'waiting', why: 'running, health check starting' };
      return { kind: 'failed', why: `running but ${c.health}` };
    case 'exited':
      return { kind: 'failed', why: exited(c) };
    case 'dead':
    case 'paused':
      return { kind: 'failed', why: c.state };
    case 'restarting':
      return { kind: 'waiting', why: `restarting${c.exitCode ? ` (last exit code ${c.exitCode})` : ''}` };
    case 'created':
    case 'removing':
    case '':
      return { kind: 'waiting', why: c.state || 'in no known state' };
    default:
      return { kind: 'waiting', why: c.state };
  }
}

export interface ServiceVerdict {
  service: string;
  /** The container's name, or '' when the service has none. */
  name: string;
  ready: boolean;
  /** e.g. `restarting`, `running but unhealthy`, `exited with code 1`, `has no container`. */
  why: string;
  container: ComposeContainer | undefined;
}

/**
 * Every service the compose file defines and every container found, judged. `final` turns
 * "still waiting" into a failure: a service stuck in created or restarting when time is up.
 */
export function judge(
  services: readonly string[],
  containers: readonly ComposeContainer[],
  final: boolean,
): ServiceVerdict[] {
  const names = [...new Set([...services, ...containers.map((c) => c.service)])];
  const out: ServiceVerdict[] = [];
  for (const service of names) {
    const mine = containers.filter((c) => c.service === service);
    if (mine.length === 0) {
      out.push({
        service,
        name: '',
        ready: false,
        why: final ? 'has no container' : 'not created yet',
        container: undefined,
      });
      continue;
    }
    for (const c of mine) {
      const r = readiness(c);
      out.push({
        service,
        name: c.name,
        ready: r.kind === 'ready',
        why: r.kind === 'ready' ? (c.health ? 'running and healthy' : 'running') : r.why,
        container: c,
      });
    }
  }
  return out;
}

/** Failed now, whatever waiting longer would bring. */
export function hopeless(verdicts: readonly ServiceVerdict[]): ServiceVerdict[] {
  return verdicts.filter((v) => v.container && readiness(v.container).kind === 'failed');
}

/** `api (pulse-api-1)` when a service has several containers, else `api`. */
export function label(v: ServiceVerdict, all: readonly ServiceVerdict[]): string {
  return all.filter((o) => o.service === v.service).length > 1 && v.name ? `${v.service} (${v.name})` : v.service;
}
