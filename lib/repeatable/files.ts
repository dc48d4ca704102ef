// A profile's repeatable SQL (its `repeatable/` folder): files re-applied after the migrations
// whenever their bytes change (views, grants, row level security policies). Read here, in name
// order, with the sha256 of each file's bytes and the roles its header says it needs.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface RepeatableFile {
  /** The file's name in the folder (`support_role.sql`). */
  file: string;
  path: string;
  text: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
  /**
   * Roles named by `-- upkit:requires-role NAME` lines before the first statement: the file waits until they all exist.
   */
  requiresRoles: string[];
}

/** The key of a repeatable file's statements in Content.statements, and how the plan and the lint name it. */
export function repeatableKey(file: string): string {
  return `repeatable/${file}`;
}

const REQUIRES_ROLE = /^--\s*upkit:requires-role\s+(\S+)\s*$/;

/** The roles named in the comment lines that open the file (before its first statement). */
export function requiredRoles(text: string): string[] {
  const roles: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (!line.startsWith('--')) break;
    const m = REQUIRES_ROLE.exec(line);
    if (m) roles.push(m[1]!);
  }
  return roles;
}

/**
 * The `*.sql` files of the folder, sorted by name (code point order, the same on every
 * machine); none when the folder does not exist.
 */
export function readRepeatableDir(dir: string | undefined): RepeatableFile[] {
  if (!dir || !existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const names = readdirSync(dir).filter((n) => n.endsWith('.sql') && statSync(path.join(dir, n)).isFile());
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((file) => {
    const full = path.join(dir, file);
    const bytes = readFileSync(full);
    const text = bytes.toString('utf8');
    return {
      file,
      path: full,
      text,
      checksum: createHash('sha256').update(bytes).digest('hex'),
      requiresRoles: requiredRoles(text),
    };
  });
}
