// Does every running container use the image just built (or pulled)?
//
// The rule: a container is current when the image ID it runs (`docker inspect`, `.Image`)
// equals the ID its image reference resolves to now (`docker image inspect REF`, `.Id`),
// where the reference is the one compose created it from (`.Config.Image`) and is one the
// compose file names (`docker compose config --images`).
//
// Not `docker compose images`: it inspects the container's *reference*, so a container still
// running the old image would show the new image's ID whenever the daemon reports the tag
// rather than the ID; its JSON also changed shape across versions. Nor the `Image` field of
// `ps`: it is a name, not an ID, and missing before Compose 2.13 or so.
import { runProcess, type ProcessOptions } from './cli.ts';
import type { ServiceVerdict } from './ps.ts';

export interface ContainerImage {
  /** Full container ID. */
  id: string;
  /** The reference the container was created from, e.g. `pulse-api` or `postgres:16`. */
  ref: string;
  /** The image it runs, `sha256:…`. */
  imageId: string;
}

export interface StaleImage {
  service: string;
  name: string;
  why: string;
}

export interface ImageCheck {
  /** False when the docker CLI was not there to ask (then `stale` is empty). */
  checked: boolean;
  stale: StaleImage[];
  /** Container ID → image ID, for the result. */
  imageIds: Map<string, string>;
  note: string | undefined;
}

/** Lines of `docker inspect --format '{{.Id}} {{.Config.Image}} {{.Image}}'`. */
export function parseContainerInspect(stdout: string): ContainerImage[] {
  const out: ContainerImage[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const [id, ref, imageId] = line.trim().split(/\s+/);
    if (id && ref && imageId) out.push({ id, ref, imageId });
  }
  return out;
}

/** `postgres` and `docker.io/library/postgres:latest` are the same reference. */
export function normalizeRef(ref: string): string {
  let r = ref
    .trim()
    .replace(/^docker\.io\//, '')
    .replace(/^index\.docker\.io\//, '');
  if (!r.includes('/')) r = `library/${r}`;
  const lastSlash = r.lastIndexOf('/');
  if (!r.includes('@') && !r.slice(lastSlash + 1).includes(':')) r = `${r}:latest`;
  return r;
}

function sameId(a: string, b: string): boolean {
  const x = a.replace(/^sha256:/, '');
  const y = b.replace(/^sha256:/, '');
  return x.length > 0 && y.length > 0 && (x.startsWith(y) || y.startsWith(x));
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Pure: the rule above, for the containers judged ready. */
export function staleImages(
  ready: readonly ServiceVerdict[],
  inspected: readonly ContainerImage[],
  refIds: ReadonlyMap<string, string | null>,
  configured: readonly string[],
): StaleImage[] {
  const named = new Set(configured.map(normalizeRef));
  const out: StaleImage[] = [];
  for (const v of ready) {
    const cid = v.container?.id ?? '';
    const c = inspected.find((i) => cid && sameId(i.id, cid));
    if (!c) {
      out.push({ service: v.service, name: v.name, why: 'its container could not be inspected' });
      continue;
    }
    if (named.size > 0 && !named.has(normalizeRef(c.ref))) {
      out.push({
        service: v.service,
        name: v.name,
        why: `runs ${c.ref}, an image the compose file does not name (it names ${configured.join(', ')})`,
      });
      continue;
    }
    const now = refIds.get(c.ref);
    if (!now) {
      out.push({
        service: v.service,
        name: v.name,
        why: `runs image ${shortId(c.imageId)}, but ${c.ref} names no image now`,
      });
    } else if (!sameId(now, c.imageId)) {
      out.push({
        service: v.service,
        name: v.name,
        why: `runs an old image: ${shortId(c.imageId)}, while ${c.ref} is now ${shortId(now)}`,
      });
    }
  }
  return out;
}

/** The engine's own CLI answers these; `docker-compose` alone has no inspect. */
const DOCKER = 'docker';

export async function checkImages(
  ready: readonly ServiceVerdict[],
  configured: readonly string[],
  options: ProcessOptions = {},
): Promise<ImageCheck> {
  const ids = ready.map((v) => v.container?.id ?? '').filter(Boolean);
  if (ids.length === 0)
    return {
      checked: true,
      stale: staleImages(ready, [], new Map(), configured),
      imageIds: new Map(),
      note: undefined,
    };
  let inspected: ContainerImage[];
  try {
    const r = await runProcess(
      DOCKER,
      ['inspect', '--type', 'container', '--format', '{{.Id}} {{.Config.Image}} {{.Image}}', ...ids],
      { ...options, timeoutMs: 30_000 },
    );
    inspected = parseContainerInspect(r.stdout);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return {
      checked: false,
      stale: [],
      imageIds: new Map(),
      note: 'images not compared: the docker CLI is not on PATH',
    };
  }
  const refIds = new Map<string, string | null>();
  for (const ref of new Set(inspected.map((c) => c.ref))) {
    const r = await runProcess(DOCKER, ['image', 'inspect', '--format', '{{.Id}}', ref], {
      ...options,
      timeoutMs: 30_000,
    });
    const id = r.code === 0 ? r.stdout.trim().split(/\s+/)[0] : undefined;
    refIds.set(ref, id || null);
  }
  return {
    checked: true,
    stale: staleImages(ready, inspected, refIds, configured),
    imageIds: new Map(inspected.map((c) => [c.id, c.imageId])),
    note: undefined,
  };
}
