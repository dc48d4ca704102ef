// The Node versions upkit supports, checked before anything else is loaded: an older Node
// gets one line and exit 2 instead of a syntax or module error from deep inside a dependency.
// Imported first by every entry point (and mirrored in bin/upkit.js, which is plain JS).
// Keep MIN_NODE in step with package.json "engines" (test/unit/nodeGate.test.ts checks it)
// and docs/node-and-platforms.md.
//
// 20.10 is the first Node 20 that parses import attributes (`import … with { type: 'json' }`),
// which ora's spinners use; on 20.6-20.9 every command stops with "SyntaxError: Unexpected
// token 'with'". From 20.10 on, every command runs (CI runs the smoke test's commands on
// 20.10.0). Below 20.6 the tsx loader cannot register, so only bin/upkit's own check speaks.
//
// Node parses an entry's whole static import graph before running any of it, so a syntax
// error in a dependency comes before this module's check: an entry imports this module
// statically and everything else with `await import(...)` after it.
export const MIN_NODE = { major: 20, minor: 10 } as const;

export function nodeProblem(version: string = process.versions.node): string | undefined {
  const [major = 0, minor = 0] = version
    .replace(/^v/, '')
    .split('.')
    .map((n) => Number.parseInt(n, 10));
  if (major > MIN_NODE.major || (major === MIN_NODE.major && minor >= MIN_NODE.minor)) return undefined;
  return (
    `upkit needs Node ${MIN_NODE.major}.${MIN_NODE.minor} ` + `or newer (22 or 24 recommended); this is Node ${version}`
  );
}

const problem = nodeProblem();
if (problem !== undefined) {
  process.stderr.write(`✖ ${problem}\n`);
  process.exit(2);
}
