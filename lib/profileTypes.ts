// Content is a profile (DESIGN.md): what the engine is given about the application whose
// migrations it runs. The engine branches on what a profile provides (seed data, release
// probes, a legacy era), never on its name; profiles/ builds them (Pulse's, any drizzle app's)
// and the commands pass one down.
import type { Client } from 'pg';
import type { SeedExpectations } from '../verify/seed.ts';
import type { EnvKey } from './install/envFile.ts';
import type { ReleaseProbe } from './release.ts';

type Queryable = Pick<Client, 'query'>;

/** Seed data the profile owns: applied after the migrations, checked by verify. */
export interface ProfileSeed extends SeedExpectations {
  /** Brings the seed data of a database to `release`, idempotently. */
  apply(client: Queryable, release: string): Promise<void>;
  /** How many seed rows apply(release) would add or complete; 0 when it has nothing to do. */
  gaps(client: Queryable, release: string): Promise<number>;
  /** The tables the seed step writes (its lock waits name them). */
  tables: readonly string[];
}

/** Releases before drizzle: hand-run SQL files (the legacy folder) bring a database to `end`. */
export interface LegacyEra {
  /** The release the legacy files bring a database to; drizzle's first entry is its schema. */
  end: string;
  /** The releases before `end`: a database detected at one of them (or at none) gets the legacy files. */
  before: readonly string[];
}

export interface Profile {
  /** `pulse` or `app`: named in the plan and the log. */
  name: string;
  /**
   * The product a release belongs to in messages ("Pulse v2.3"); none for an app, whose releases are its journal tags.
   */
  label?: string;
  drizzleDir: string;
  /**
   * Repeatable SQL folder (views, grants, policies): its `*.sql` files are applied after the
   * migrations and the seed data whenever their bytes change; none or absent: no such files.
   */
  repeatableDir?: string;
  /** Legacy SQL folder: applied in the legacy era, its ledger checked by verify; none for most apps. */
  legacyDir?: string;
  /** The release the files bring a database to (an app: its last journal tag; null: no entries). */
  latestRelease: string | null;
  /** Detects the release from the catalog; without them, the newest applied journal entry is the release. */
  releaseProbes?: readonly ReleaseProbe[];
  /** The release each journal entry brings (by idx); without them, the entry's tag. */
  drizzleReleases?: readonly string[];
  legacy?: LegacyEra;
  seed?: ProfileSeed;
  /** The memory the app's containers need on the host (install's host check); none when unknown. */
  minMemoryBytes?: number;
  /**
   * The keys install writes into .env where it lacks them (the app's secrets, and DB_* when no
   * DATABASE_URL is configured); none: install writes no .env, the operator configures the database.
   */
  envKeys?(hasDatabaseUrl: boolean): EnvKey[];
  /** Creates the first organization and its admin user (install --admin-email). */
  createAdmin?(
    client: Queryable,
    input: { email: string; password: string; organization: string },
  ): Promise<'created' | 'exists'>;
}

/** "Pulse v2.3" for a profile with a label, the bare tag for an app. */
export function releaseName(profile: Pick<Profile, 'label'>, release: string): string {
  return profile.label ? `${profile.label} ${release}` : release;
}

/** The profile's resolver, for the engine code that reads the configuration itself (install). */
export type ProfileFor = (folders: {
  drizzleDir: string;
  legacyDir: string;
  repeatableDir?: string | undefined;
}) => Profile;
