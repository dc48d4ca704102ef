// The files an upgrade works from, read and parsed once: the drizzle folder (always) and,
// for Pulse, its legacy SQL folder. Parsing uses the real PostgreSQL parser, so a syntax
// error is found (with file:line:col) before anything is written.
import path from 'node:path';
import type { Config } from './config.ts';
import { readMigrations, type DrizzleMigration } from './drizzle/journal.ts';
import { readLegacyManifest, type LegacyFile, type LegacyManifest } from './legacy/manifest.ts';
import { isPulse } from './profile.ts';
import { parseSqlFile, type ParsedStatement } from './sql/statements.ts';

export interface Content {
  profile: 'pulse' | 'app';
  drizzleDir: string;
  migrations: DrizzleMigration[];
  legacy: LegacyManifest | null;
  /** Statements of each migration (by tag) and legacy file (by file name). */
  statements: Map<string, ParsedStatement[]>;
}

export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

export function loadContent(config: Pick<Config, 'drizzleDir' | 'legacyDir'>): Content {
  const pulse = isPulse(config);
  const migrations = readMigrations(config.drizzleDir);
  const legacy = pulse ? readLegacyManifest(config.legacyDir) : null;
  return { profile: pulse ? 'pulse' : 'app', drizzleDir: config.drizzleDir, migrations, legacy, statements: new Map() };
}

/**
 * Parses the named migrations (tags) and legacy files. Only what will run is parsed: the
 * parser is WebAssembly and its start-up is most of a no-op run's cost.
 */
export async function parseFiles(content: Content, names: Iterable<string>): Promise<void> {
  const legacyFiles: LegacyFile[] = content.legacy ? [...content.legacy.files, ...(content.legacy.comprehensive ? [content.legacy.comprehensive] : [])] : [];
  for (const name of names) {
    if (content.statements.has(name)) continue;
    const m = content.migrations.find((x) => x.tag === name);
    if (m) {
      content.statements.set(name, await parseSqlFile(m.text, { file: displayPath(m.path), breakpoints: m.breakpoints }));
      continue;
    }
    const f = legacyFiles.find((x) => x.file === name);
    if (f) content.statements.set(name, await parseSqlFile(f.text, { file: displayPath(f.path), breakpoints: false }));
  }
}

/** The files a plan's steps will run. */
export function filesToRun(steps: ReadonlyArray<{ kind: string; tag?: string; comprehensive?: { file: string } | null; files?: ReadonlyArray<{ file: string }> }>): string[] {
  const out: string[] = [];
  for (const s of steps) {
    if (s.kind === 'drizzle' && s.tag) out.push(s.tag);
    if (s.kind === 'legacy') out.push(...(s.comprehensive ? [s.comprehensive.file] : []), ...(s.files ?? []).map((f) => f.file));
  }
  return out;
}
