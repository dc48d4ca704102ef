// What an operator on an older Node meets: one line naming the Node upkit needs, exit 2,
// nothing else (lib/nodeGate.ts), on the registry's builds of Node 18 and of 20.9, the last
// minor below the minimum; and on the minimum itself, 20.10.0, the commands load and run.
// Skipped, with the reason, only where those builds cannot be fetched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MIN_NODE } from '../../lib/nodeGate.ts';
import { ROOT } from '../support/cli.ts';
import { nodeBuild } from '../support/nodeBuilds.ts';

const TSX_LOADER = import.meta.resolve('tsx');
const ZX_CLI = path.join(ROOT, 'node_modules/zx/build/cli.js');
const OLD = ['18', '20.9.0'];
const MINIMUM = `${MIN_NODE.major}.${MIN_NODE.minor}.0`;

/** The node binary of `spec`, or the test is skipped with the reason it cannot be had. */
function nodeOrSkip(spec: string, skip: (note: string) => never): { path: string; version: string } {
  const build = nodeBuild(spec);
  if ('reason' in build) skip(build.reason);
  return build;
}

function run(node: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(node, args, {
    cwd: mkdtempSync(path.join(tmpdir(), 'upkit-cwd-')),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NO_COLOR: '1',
      UPKIT_LOG_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-logs-')),
      ...env,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const refusal = (version: string) =>
  `✖ upkit needs Node ${MIN_NODE.major}.${MIN_NODE.minor} or newer (22 or 24 recommended); this is Node ${version}\n`;

/** An entry point as upkit's are written: the gate imported first, everything else after it. */
function gatedEntry(entry: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'upkit-entry-')), 'entry.mts');
  writeFileSync(
    file,
    `import ${JSON.stringify(pathToFileURL(path.join(ROOT, 'lib/nodeGate.ts')).href)}` +
      `;\nawait import(${JSON.stringify(pathToFileURL(path.join(ROOT, entry)).href)});\n`,
  );
  return file;
}

const ENTRIES = [
  'upgrade.ts',
  'install.ts',
  'verify/index.ts',
  ...readdirSync(path.join(ROOT, 'scripts'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `scripts/${f}`),
];
const gatedEntries = ENTRIES.filter((e) => /nodeGate/.test(readFileSync(path.join(ROOT, e), 'utf8')));
const LAUNCHER = path.join(ROOT, 'bin/upkit');

describe('an older Node', () => {
  it.for(OLD)('Node %s: the gate alone prints one line and exits 2', (spec, { skip }) => {
    const node = nodeOrSkip(spec, skip);
    const r = run(node.path, ['--import', TSX_LOADER, path.join(ROOT, 'lib/nodeGate.ts')]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: refusal(node.version.slice(1)) });
  });

  it.for(OLD)(
    'Node %s: `upgrade.ts --help` behind the gate prints the one line and exits 2, before any dependency fails to load',
    (spec, { skip }) => {
      const node = nodeOrSkip(spec, skip);
      const r = run(node.path, ['--import', TSX_LOADER, ZX_CLI, gatedEntry('upgrade.ts'), '--help']);
      expect(r).toEqual({ code: 2, stdout: '', stderr: refusal(node.version.slice(1)) });
    },
  );

  it('Node 18: every entry point that imports the gate prints the one line and exits 2', ({ skip }) => {
    if (gatedEntries.length === 0) skip('no entry point imports lib/nodeGate.ts in this tree');
    const node = nodeOrSkip('18', skip);
    for (const entry of gatedEntries) {
      const r = run(node.path, ['--import', TSX_LOADER, ZX_CLI, path.join(ROOT, entry), '--help']);
      expect({ entry, ...r }).toEqual({ entry, code: 2, stdout: '', stderr: refusal(node.version.slice(1)) });
    }
  });

  it('Node 18: bin/upkit prints the one line and exits 2', ({ skip }) => {
    if (!existsSync(LAUNCHER)) skip('no bin/upkit launcher in this tree');
    const node = nodeOrSkip('18', skip);
    // bin/upkit is a shell script: it runs the first node on PATH, here the old one.
    const r = run(LAUNCHER, ['upgrade', '--help'], {
      PATH: `${path.dirname(node.path)}${path.delimiter}${process.env.PATH ?? ''}`,
    });
    expect(r).toEqual({ code: 2, stdout: '', stderr: refusal(node.version.slice(1)) });
  });
});

describe(`the minimum, Node ${MINIMUM}`, () => {
  it('passes the gate, and every entry point loads and prints its usage', ({ skip }) => {
    const node = nodeOrSkip(MINIMUM, skip);
    expect(run(node.path, ['--import', TSX_LOADER, path.join(ROOT, 'lib/nodeGate.ts')])).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    for (const entry of ENTRIES) {
      const r = run(node.path, ['--import', TSX_LOADER, ZX_CLI, gatedEntry(entry), '--help']);
      expect({ entry, code: r.code, stderr: r.stderr }).toEqual({ entry, code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^usage: /);
    }
  });
});
