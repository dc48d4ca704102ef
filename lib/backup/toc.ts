// Reading an archive back with pg_restore --list: it must parse the archive and its table
// of contents must name every table that was dumped.
import { composeArgs } from '../compose.ts';
import { isUpkitError, UpkitError } from '../errors.ts';
import type { PgBinary } from '../pgTools.ts';
import { type ProcessResult, runProcess } from '../process.ts';
import { redact } from '../redact.ts';
import type { Dumper } from './strategy.ts';

export interface Toc {
  text: string;
  entries: number;
}

function unreadable(file: string, stderr: string): UpkitError {
  return new UpkitError({
    code: 'backup.unreadable',
    exit: 'refused',
    message:
      `pg_restore cannot read ${file}: ` +
      `${redact((stderr.trim().split('\n').at(-1) ?? 'unknown error').replace(/^pg_restore: (error: )?/, ''))}`,
    hint: 'the archive is damaged or not a custom-format dump; take a new one with npx zx scripts/backup.ts',
  });
}

/** The table of contents read from pg_restore --list's output: refused when pg_restore failed. */
function tocOf(file: string, r: ProcessResult): Toc {
  if (r.code !== 0) throw unreadable(file, r.stderr || `exit ${r.code ?? r.signal}`);
  return { text: r.stdout, entries: r.stdout.split('\n').filter((l) => /^\d+;/.test(l)).length };
}

const TOC_MAX_BYTES = 256 * 1024 * 1024;

export async function listArchive(pgRestore: PgBinary, file: string): Promise<Toc> {
  try {
    return tocOf(file, await runProcess(pgRestore.path, ['--list', file], { stdoutMaxBytes: TOC_MAX_BYTES }));
  } catch (err) {
    throw isUpkitError(err) ? err : unreadable(file, String(err));
  }
}

export async function readToc(dumper: Dumper, file: string, env: NodeJS.ProcessEnv): Promise<Toc> {
  if (dumper.kind === 'local') return listArchive(dumper.pgRestore, file);
  if (dumper.pgRestore) return listArchive(dumper.pgRestore, file);
  const args = composeArgs(dumper.cli, dumper.composeFile, ['exec', '-T', dumper.service, 'pg_restore', '--list']);
  return tocOf(
    file,
    await runProcess(dumper.cli.command, args, { env, stdinFile: file, stdoutMaxBytes: TOC_MAX_BYTES }),
  );
}

// pg_restore --list prints an entry as `<id>; <oid> <oid> <DESC> <schema> <name> <owner>`,
// names unquoted, separated by single spaces, line breaks in them turned into spaces. Any
// of them may hold spaces, so a line cannot be split into its fields on its own: it is
// compared with what the database says it should be.

/** A table as pg_restore --list names it: schema, name and owner, line breaks as spaces. */
export interface TocTable {
  schema: string;
  name: string;
  owner: string;
}

const TABLE_DATA = /^\d+; \d+ \d+ TABLE DATA (.+)$/;

function asListed(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

function tableDataLines(toc: Toc): string[] {
  const out: string[] = [];
  for (const line of toc.text.split('\n')) {
    const m = TABLE_DATA.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/**
 * The tables that have no TABLE DATA entry of their own. Exact for any names: each table is
 * looked for as its whole `schema name owner` text, and as many entries of that text must
 * be present as there are tables that print as it.
 */
export function tablesMissingFromToc(toc: Toc, tables: readonly TocTable[]): TocTable[] {
  const entries = new Map<string, number>();
  for (const rest of tableDataLines(toc)) entries.set(rest, (entries.get(rest) ?? 0) + 1);
  const missing: TocTable[] = [];
  for (const t of tables) {
    const key = `${asListed(t.schema)} ${asListed(t.name)} ${asListed(t.owner)}`;
    const left = entries.get(key) ?? 0;
    if (left > 0) entries.set(key, left - 1);
    else missing.push(t);
  }
  return missing;
}

/** A manifest's table key: `schema.table`, without double quotes (as lib/backup/run.ts countRows writes it). */
function manifestKey(schema: string, name: string): string {
  return `${schema}.${name}`.replace(/"/g, '');
}

/**
 * The manifest keys (`schema.table`) that TABLE DATA entries can stand for. Where names
 * hold spaces a line can be read in several ways; every reading is in the set, so that a
 * table present is never reported missing whatever its name or its owner's.
 */
export function tocTables(toc: Toc): Set<string> {
  const out = new Set<string>();
  for (const rest of tableDataLines(toc)) {
    const words = rest.split(' ');
    // schema = words[0, i), name = words[i, j), owner = words[j, end): each at least one word.
    for (let i = 1; i < words.length - 1; i++) {
      for (let j = i + 1; j < words.length; j++)
        out.add(manifestKey(words.slice(0, i).join(' '), words.slice(i, j).join(' ')));
    }
  }
  return out;
}
