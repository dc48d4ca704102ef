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

export async function loadContent(config: Pick<Config, 'drizzleDir' | 'legacyDir'>): Promise<Content> {
  const pulse = isPulse(config);
  const migrations = readMigrations(config.drizzleDir);
  const legacy = pulse ? readLegacyManifest(config.legacyDir) : null;
  const statements = new Map<string, ParsedStatement[]>();
  for (const m of migrations) statements.set(m.tag, await parseSqlFile(m.text, { file: displayPath(m.path), breakpoints: m.breakpoints }));
  const legacyFiles: LegacyFile[] = legacy ? [...legacy.files, ...(legacy.comprehensive ? [legacy.comprehensive] : [])] : [];
  for (const f of legacyFiles) statements.set(f.file, await parseSqlFile(f.text, { file: displayPath(f.path), breakpoints: false }));
  return { profile: pulse ? 'pulse' : 'app', drizzleDir: config.drizzleDir, migrations, legacy, statements };
}
