// Reading an archive back with pg_restore --list: it must parse the archive and its table
// of contents must name every table that was dumped.
import { execFile, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { promisify } from 'node:util';
import { composeArgs } from '../compose.ts';
import { UpkitError } from '../errors.ts';
import type { PgBinary } from '../pgTools.ts';
import { redact } from '../redact.ts';
import type { Dumper } from './strategy.ts';

const run = promisify(execFile);

export interface Toc {
  text: string;
  entries: number;
}

function unreadable(file: string, stderr: string): UpkitError {
  return new UpkitError({
    code: 'backup.unreadable',
    exit: 'refused',
    message: `pg_restore cannot read ${file}: ${redact((stderr.trim().split('\n').at(-1) ?? 'unknown error').replace(/^pg_restore: (error: )?/, ''))}`,
    hint: 'the archive is damaged or not a custom-format dump; take a new one with npx zx scripts/backup.ts',
  });
}

export async function listArchive(pgRestore: PgBinary, file: string): Promise<Toc> {
  try {
    const { stdout } = await run(pgRestore.path, ['--list', file], { maxBuffer: 256 * 1024 * 1024 });
    return { text: stdout, entries: stdout.split('\n').filter((l) => /^\d+;/.test(l)).length };
  } catch (err) {
    throw unreadable(file, (err as { stderr?: string }).stderr ?? String(err));
  }
}

export async function readToc(dumper: Dumper, file: string, env: NodeJS.ProcessEnv): Promise<Toc> {
  if (dumper.kind === 'local') return listArchive(dumper.pgRestore, file);
  if (dumper.pgRestore) return listArchive(dumper.pgRestore, file);
  const args = composeArgs(dumper.cli, dumper.composeFile, ['exec', '-T', dumper.service, 'pg_restore', '--list']);
  return new Promise((resolve, reject) => {
    const child = spawn(dumper.cli.command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createReadStream(file).pipe(child.stdin);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(unreadable(file, stderr));
      else resolve({ text: stdout, entries: stdout.split('\n').filter((l) => /^\d+;/.test(l)).length });
    });
  });
}

/** `schema.table` of every TABLE DATA entry (pg_restore prints names unquoted). */
export function tocTables(toc: Toc): Set<string> {
  const out = new Set<string>();
  for (const line of toc.text.split('\n')) {
    const m = /^\d+; \d+ \d+ TABLE DATA (\S+) (.+) \S+$/.exec(line);
    if (m) out.add(`${m[1]}.${m[2]}`);
  }
  return out;
}
