// drizzle's migration folder, read the way drizzle-orm's migrator reads it: the journal
// (meta/_journal.json) lists entries in order; each entry's file is split on
// `--> statement-breakpoint`, hashed with sha256 over the whole file, and recorded with
// the journal's `when` as created_at.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UpkitError } from '../errors.ts';
import { sha256 } from '../legacy/manifest.ts';

export const BREAKPOINT = '--> statement-breakpoint';

export interface JournalEntry {
  idx: number;
  tag: string;
  when: number;
  breakpoints: boolean;
}

export interface DrizzleMigration extends JournalEntry {
  path: string;
  text: string;
  /** Exactly what drizzle-orm stores in __drizzle_migrations.hash. */
  hash: string;
  /** The file split as drizzle-orm splits it. */
  statements: string[];
}

function invalid(
  dir: string,
  what: string,
  hint = 'restore the folder from the upkit release you are running, or point --drizzle-dir at a complete one',
): UpkitError {
  return new UpkitError({ code: 'drizzle.journal', exit: 'refused', message: `drizzle folder ${dir}: ${what}`, hint });
}

export function readJournal(dir: string): JournalEntry[] {
  const file = path.join(dir, 'meta', '_journal.json');
  if (!existsSync(file)) throw invalid(dir, 'meta/_journal.json is missing');
  let raw: { entries?: unknown };
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as { entries?: unknown };
  } catch (err) {
    throw invalid(dir, `meta/_journal.json is not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(raw.entries)) throw invalid(dir, 'meta/_journal.json has no "entries" list');
  return raw.entries.map((e: unknown, i: number) => {
    const x = e as Partial<JournalEntry>;
    if (typeof x.tag !== 'string' || typeof x.when !== 'number')
      throw invalid(dir, `journal entry ${i} needs "tag" and a numeric "when"`);
    return {
      idx: typeof x.idx === 'number' ? x.idx : i,
      tag: x.tag,
      when: x.when,
      breakpoints: x.breakpoints !== false,
    };
  });
}

export function readMigrations(dir: string): DrizzleMigration[] {
  return readJournal(dir).map((entry) => {
    const file = path.join(dir, `${entry.tag}.sql`);
    if (!existsSync(file)) throw invalid(dir, `the journal names ${entry.tag}, but ${entry.tag}.sql does not exist`);
    const text = readFileSync(file).toString();
    return { ...entry, path: file, text, hash: sha256(text), statements: text.split(BREAKPOINT) };
  });
}

/**
 * Where drizzle-kit wrote the snapshot of a journal entry: it names each snapshot after its
 * migration's prefix (the tag's part before the first `_`: `0007` in index mode,
 * `20250508083758` in timestamp mode), so that name is tried first, then the padded index
 * (`0007_snapshot.json`), which older folders use. When neither exists, the prefix's path is
 * returned, for the caller to report as missing.
 */
export function snapshotPath(dir: string, entry: Pick<JournalEntry, 'idx' | 'tag'>): string {
  const cut = entry.tag.indexOf('_');
  const prefix = cut > 0 ? entry.tag.slice(0, cut) : entry.tag;
  const byPrefix = path.join(dir, 'meta', `${prefix}_snapshot.json`);
  if (existsSync(byPrefix)) return byPrefix;
  const byIndex = path.join(dir, 'meta', `${String(entry.idx).padStart(4, '0')}_snapshot.json`);
  return existsSync(byIndex) ? byIndex : byPrefix;
}
