// The files an upgrade works from, read and parsed once: the profile's drizzle folder (always)
// and, for a profile with a legacy era (Pulse), its legacy SQL folder. Parsing uses the real
// PostgreSQL parser, so a syntax error is found (with file:line:col) before anything is written.
import path from 'node:path';
import { readMigrations, type DrizzleMigration } from './drizzle/journal.ts';
import { readLegacyManifest, type LegacyFile, type LegacyManifest } from './legacy/manifest.ts';
import type { Profile } from './profileTypes.ts';
import { readRepeatableDir, type RepeatableFile } from './repeatable/files.ts';
import { parseSqlFile, type ParsedStatement } from './sql/statements.ts';

export interface Content {
  profile: Profile;
  drizzleDir: string;
  migrations: DrizzleMigration[];
  legacy: LegacyManifest | null;
  /** Statements of each migration (by tag), legacy file (by file name) and repeatable file (`repeatable/NAME.sql`). */
  statements: Map<string, ParsedStatement[]>;
  /** The profile's repeatable SQL files, in the order they apply; none without a folder. */
  repeatable?: RepeatableFile[];
}

export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

export function loadContent(profile: Profile): Content {
  const migrations = readMigrations(profile.drizzleDir);
  const legacy = profile.legacy && profile.legacyDir ? readLegacyManifest(profile.legacyDir) : null;
  return {
    profile,
    drizzleDir: profile.drizzleDir,
    migrations,
    legacy,
    statements: new Map(),
    repeatable: readRepeatableDir(profile.repeatableDir),
  };
}

/**
 * Parses the named migrations (tags) and legacy files. Only what will run is parsed: the
 * parser is WebAssembly and its start-up is most of a no-op run's cost.
 */
export async function parseFiles(content: Content, names: Iterable<string>): Promise<void> {
  const legacyFiles: LegacyFile[] = content.legacy
    ? [...content.legacy.files, ...(content.legacy.comprehensive ? [content.legacy.comprehensive] : [])]
    : [];
  for (const name of names) {
    if (content.statements.has(name)) continue;
    const m = content.migrations.find((x) => x.tag === name);
    if (m) {
      content.statements.set(
        name,
        await parseSqlFile(m.text, { file: displayPath(m.path), breakpoints: m.breakpoints }),
      );
      continue;
    }
    const f = legacyFiles.find((x) => x.file === name);
    if (f) content.statements.set(name, await parseSqlFile(f.text, { file: displayPath(f.path), breakpoints: false }));
  }
}

/** The files a plan's steps will run. */
export function filesToRun(
  steps: ReadonlyArray<{
    kind: string;
    tag?: string;
    comprehensive?: { file: string } | null;
    files?: ReadonlyArray<{ file: string }>;
  }>,
): string[] {
  const out: string[] = [];
  for (const s of steps) {
    if (s.kind === 'drizzle' && s.tag) out.push(s.tag);
    if (s.kind === 'legacy')
      out.push(...(s.comprehensive ? [s.comprehensive.file] : []), ...(s.files ?? []).map((f) => f.file));
  }
  return out;
}
