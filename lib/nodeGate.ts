// The Node versions upkit supports, checked before anything else is loaded: an older Node
// gets one line and exit 2 instead of a syntax or module error from deep inside a dependency.
// Imported first by every entry point (and mirrored in bin/upkit.js, which is plain JS).
// Keep MIN_NODE in step with package.json "engines" and README's prerequisites.
export const MIN_NODE = { major: 20, minor: 12 } as const;

export function nodeProblem(version: string = process.versions.node): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  if (major > MIN_NODE.major || (major === MIN_NODE.major && minor >= MIN_NODE.minor)) return undefined;
  return `upkit needs Node ${MIN_NODE.major}.${MIN_NODE.minor} or newer (22 or 24 recommended); this is Node ${version}`;
}

const problem = nodeProblem();
if (problem !== undefined) {
  process.stderr.write(`✖ ${problem}\n`);
  process.exit(2);
}
