// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the Node that runs upkit.
// An older one, the registry's Node 18 build, gets one line and exit 2, and nothing changes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { ROOT } from '../support/cli.ts';
import { useFreshDatabase } from '../support/database.ts';
import { nodeBuild } from '../support/nodeBuilds.ts';

describe('failure catalogue: Node', () => {
  const db = useFreshDatabase();

  it('node.too-old', async ({ skip }) => {
    const c = failureCase('node.too-old');
    if (!/nodeGate/.test(readFileSync(path.join(ROOT, c.entry), 'utf8')))
      skip(`${c.entry} does not import lib/nodeGate.ts in this tree`);
    const node = nodeBuild('18');
    if ('reason' in node) return skip(node.reason);
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, version: node.version.replace(/^v/, '') }, { node: node.path });
    expectCase(r, c, r.vars);
    // The one line and nothing else.
    expect({ stdout: r.stdout, lines: r.stderr.trimEnd().split('\n').length }).toEqual({ stdout: '', lines: 1 });
    await expectUnchanged(db().url, before);
  });
});
