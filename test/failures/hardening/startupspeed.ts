// Start-up speed: the compiled tree (.build/, `npm run build`, which `npm ci` runs) and what
// happens when it cannot be written. A compiled tree older than its sources and an install
// with `--ignore-scripts` are not failures: bin/upkit runs the sources, and each run's log
// says so (test/integration/compiled.test.ts, install-omit-dev.test.ts). See
// test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const startupSpeedCases: FailureCase[] = [
  {
    id: 'build.unwritable',
    group: 'install',
    title: "upkit's folder cannot be written when its modules are compiled",
    did:
      'Ran `npm run build` (what `npm ci` runs as its postinstall script) as a user who may read ' +
      "upkit's folder but not write it (the folder owned by root, the build run by a deploy user).",
    entry: 'scripts/build.mjs',
    args: [],
    code: 'build.unwritable',
    message: "upkit's modules were not compiled (cannot write {root}/.build: EACCES)",
    hint:
      'upkit runs from its TypeScript sources until then; run: ' +
      'cd {root} && npm run build, as a user who may write there',
    exit: 1,
    json: false,
    changed:
      'nothing (no database is involved; a compiled tree already there is left as it was, ' +
      'and bin/upkit runs it only while it matches the sources)',
    note:
      'Run by `npm ci`, the same line is printed and the install goes on (exit 0): upkit then runs from its ' +
      'sources, about 0.15 to 0.35 s slower at every start, and its log files say `modules: TypeScript sources …`.',
    test: 'failures-startupspeed.test.ts',
  },
];
