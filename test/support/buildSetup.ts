// The run's first global step: makes upkit's compiled tree (.build/, scripts/build.mjs) current,
// so that runUpkit (cli.ts) starts each entry file compiled (about a quarter of a second) instead
// of through zx and tsx (about a second). UPKIT_TEST_VIA=zx runs every test the old way; a build
// that fails leaves the tree as it is, the run goes on through zx and tsx and says so once.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** UPKIT_TEST_VIA=zx: every entry file runs through zx and tsx, as `npx zx FILE` runs it. */
export function zxForced(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.UPKIT_TEST_VIA === 'zx';
}

/**
 * Whether .build/ was compiled from the sources as they are now: bin/upkit.js's rule (every
 * source .build/stamp.json lists still has the size and modification time it was compiled from).
 */
export function compiledIsCurrent(root = ROOT): boolean {
  let files: Record<string, { size: number; mtimeMs: number }> | undefined;
  try {
    files = (JSON.parse(readFileSync(path.join(root, '.build', 'stamp.json'), 'utf8')) as { files?: typeof files })
      .files;
  } catch {
    return false;
  }
  if (!files || typeof files !== 'object' || Object.keys(files).length === 0) return false;
  for (const [name, was] of Object.entries(files)) {
    const st = statSync(path.join(root, name), { throwIfNoEntry: false });
    if (!st || st.size !== was.size || st.mtimeMs !== was.mtimeMs) return false;
  }
  return true;
}

export default function setup(): void {
  if (zxForced()) {
    console.log('upkit entry files run through zx and tsx (UPKIT_TEST_VIA=zx)');
    return;
  }
  if (compiledIsCurrent()) return;
  const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (built.status === 0 && compiledIsCurrent()) return;
  const why = (built.stderr || built.stdout || built.error?.message || '').trim().split('\n')[0];
  console.warn(
    `upkit's compiled tree could not be made current${why ? ` (${why})` : ''}: entry files run through zx and tsx, ` +
      'which is slower; run: npm run build',
  );
}
