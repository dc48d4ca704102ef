// A copy of upkit's tracked files in a new folder, as a clean clone would have them: for the
// tests that build, install or edit upkit itself without touching this checkout.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './cli.ts';

/**
 * Copies every file git tracks (those deleted in the work tree skipped) to a new folder named
 * with `prefix`. `linkModules`: node_modules linked to this checkout's, for a copy that is run
 * without an install of its own.
 */
export function copyOfUpkit(prefix: string, options: { linkModules?: boolean } = {}): string {
  const copy = mkdtempSync(path.join(tmpdir(), prefix));
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    const from = path.join(ROOT, f);
    if (!existsSync(from)) continue;
    mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
    cpSync(from, path.join(copy, f));
  }
  if (options.linkModules) symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  return copy;
}
