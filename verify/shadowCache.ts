// The cache of replayed expected schemas: what the shadow database's catalog queries returned,
// kept in a private file (0600) named by the hash of everything that decides it, so that the
// next verify (any role) builds nothing. A file that does not match its name is ignored.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/config.ts';
import { searchPathSchemas } from '../lib/pgOptions.ts';
import { createPrivateFile, ensurePrivateDir } from '../lib/privateFiles.ts';
import type { CatalogRows } from './catalog.ts';
import { catalogBatch } from './catalogQueries.ts';
import type { VerifyFiles } from './engine.ts';

/** Bumped when what is cached changes shape. */
export const CACHE_FORMAT = 1;

/** UPKIT_CACHE_DIR, or `cache/` beside upkit's `logs/`. */
export function shadowCacheDir(): string {
  return path.join(process.env.UPKIT_CACHE_DIR?.trim() || path.join(PROJECT_ROOT, 'cache'), 'shadow');
}

/**
 * The cache key: the journal, every migration file compared, the extensions created first, the
 * server major, the catalog queries, and the search_path the replay pins (where unqualified
 * names land: two databases of one app with different search_paths build different schemas).
 * The role counts only where it can: the search_path names "$user" and a migration names the
 * role or makes a schema for whoever runs it, so that a read-only role's verify still finds
 * the replay the migration role built.
 */
export function shadowKey(
  files: Pick<VerifyFiles, 'drizzleDir' | 'migrations' | 'entry'>,
  major: number,
  preinstalled: readonly string[],
  session: { searchPath: string; user: string },
): string {
  const compared = files.migrations.filter((x) => x.idx <= files.entry.idx);
  const h = createHash('sha256');
  h.update(`upkit shadow ${CACHE_FORMAT}\0${major}\0${catalogBatch(major * 10000)}\0`);
  h.update(readFileSync(path.join(files.drizzleDir, 'meta', '_journal.json')));
  for (const m of compared) h.update(`\0${m.tag}\0${m.text}`);
  h.update(`\0${preinstalled.join(',')}`);
  const schemas = searchPathSchemas(session.searchPath);
  const roleCounts = schemas.includes('$user') && compared.some((m) => namesRole(m.text, session.user));
  h.update(`\0${JSON.stringify(schemas.map((s) => (s === '$user' && roleCounts ? `$user=${session.user}` : s)))}`);
  return h.digest('hex');
}

/** Whether SQL may make a schema named like the role: it names the role, or a schema made for whoever runs it. */
function namesRole(sql: string, role: string): boolean {
  const escaped = role.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return (
    new RegExp(`(^|[^\\w$])("${escaped}"|${escaped})($|[^\\w$])`, 'i').test(sql) ||
    /\b(current_user|session_user|current_role|authorization)\b/i.test(sql)
  );
}

export interface CacheFile {
  format: number;
  key: string;
  entry: string;
  builtAt: string;
  rows: CatalogRows;
}

export function readCache(file: string, key: string): CatalogRows | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
    return c.format === CACHE_FORMAT && c.key === key && Array.isArray(c.rows) && c.rows.length === 4
      ? c.rows
      : undefined;
  } catch {
    return undefined;
  }
}

/** Written whole under another name, then renamed: a reader never sees half a file. */
export function writeCache(file: string, content: CacheFile): void {
  ensurePrivateDir(path.dirname(file));
  const partial = `${file}.${process.pid}.partial`;
  const fd = createPrivateFile(partial);
  try {
    writeSync(fd, JSON.stringify(content));
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(partial, file);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
}
