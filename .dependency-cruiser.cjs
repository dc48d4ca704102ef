// The import direction (DESIGN.md, "Content is a profile"): entry points → commands → engine,
// (lib/api.ts, the library's entry, sits with the commands),
// never back. The engine (lib/ but the commands and the CLI runner, verify/ but its entry)
// is given a profile; it imports nothing of Pulse's (profiles/, drizzle/seed.ts,
// drizzle/releases.ts, legacy-sql/), no entry point, no command, nothing of scripts/, test/
// or bench/, and none of its modules import each other in a circle.
// Run: npm run check:deps

const ENTRY = '^(upgrade|install)\\.ts$|^verify/index\\.ts$|^scripts/|^bin/';
// What runs on a server installed with `npm ci --omit=dev`: the engine, the commands, the
// profiles, the entry points, the launcher and the library's entry. The demo (scripts/demo.ts,
// lib/commands/demo.ts) is a developer's tool that starts its server with the test harness: left out.
const RUN_TIME = '^(lib|verify|profiles|bin)/|^(upgrade|install)\\.ts$|^scripts/|^index\\.js$';
const DEMO = '^scripts/demo\\.ts$|^lib/commands/demo\\.ts$';
const COMMANDS = '^lib/commands/|^lib/cli(Spec|Entry)?\\.ts$|^lib/api\\.ts$';
const ENGINE = '^(lib|verify)/';
const ENGINE_NOT = [COMMANDS, '^verify/index\\.ts$'];
const PULSE_CONTENT = '^drizzle/(seed|releases)\\.ts$|^legacy-sql/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-engine-to-profiles',
      comment:
        'The engine is given a Profile (lib/profileTypes.ts) by the commands; it never picks one or imports one.',
      severity: 'error',
      from: { path: ENGINE, pathNot: ENGINE_NOT },
      to: { path: '^profiles/' },
    },
    {
      name: 'no-engine-to-pulse-content',
      comment: "Pulse's seed data, release probes and legacy files reach the engine only through profiles/pulse.ts.",
      severity: 'error',
      from: { path: ENGINE, pathNot: ENGINE_NOT },
      to: { path: PULSE_CONTENT },
    },
    {
      name: 'no-engine-to-commands',
      comment: 'Commands call the engine, not the other way round (lib/cli.ts is the runner the commands share).',
      severity: 'error',
      from: { path: ENGINE, pathNot: ENGINE_NOT },
      to: { path: COMMANDS },
    },
    {
      name: 'no-engine-to-entry',
      comment:
        'Entry points (upgrade.ts, install.ts, verify/index.ts, scripts/) are thin handlers; nothing imports them.',
      severity: 'error',
      from: {},
      to: { path: ENTRY },
    },
    {
      name: 'no-engine-to-scripts-test-bench',
      comment:
        'Shipped code never imports the test harness or the benchmarks. lib/commands/demo.ts, ' +
        'a developer demo, starts its throwaway server with the test harness.',
      severity: 'error',
      from: { path: `${ENGINE}|^profiles/|${ENTRY}`, pathNot: '^(lib/commands|scripts)/demo\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'profiles-only-from-commands',
      comment: 'A profile is chosen once, by the commands; entry points go through them.',
      severity: 'error',
      from: { pathNot: `${COMMANDS}|^profiles/|^(test|bench)/` },
      to: { path: '^profiles/' },
    },
    {
      name: 'profiles-are-content',
      comment:
        'A profile is data and the functions that go with it: ' +
        'it may use the engine, never the commands or an entry point.',
      severity: 'error',
      from: { path: '^profiles/' },
      to: { path: `${COMMANDS}|${ENTRY}` },
    },
    {
      name: 'entry-points-through-commands',
      comment:
        'An entry point parses nothing itself: it hands its command to the ' +
        'runner (lib/cli.ts runCommand). It imports the Node version gate first.',
      severity: 'error',
      from: { path: ENTRY },
      to: { path: ENGINE, pathNot: `${COMMANDS}|^lib/nodeGate\\.ts$` },
    },
    {
      name: 'not-to-dev-dep',
      comment:
        'A server installs upkit with `npm ci --omit=dev`: nothing that runs there imports ' +
        'a devDependency (types only are erased). The demo is left out (DEMO above).',
      severity: 'error',
      from: { path: RUN_TIME, pathNot: DEMO },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-drizzle-orm-at-run-time',
      comment:
        'upkit applies migrations itself; drizzle-orm is for drizzle/schema.ts ' +
        '(drizzle-kit), the tests and the benchmarks, never what runs on a server.',
      severity: 'error',
      from: { path: RUN_TIME },
      to: { path: 'node_modules/drizzle-orm/' },
    },
    {
      name: 'no-circular',
      comment: "verify's engine and the upgrade share one module tree: no module imports itself through others.",
      severity: 'error',
      from: { path: `${ENGINE}|^profiles/` },
      to: { circular: true },
    },
  ],
  options: {
    // test/ and bench/ are seen where shipped code imports them, not cruised themselves.
    // .build/ is the compiled copy of the modules cruised here (scripts/build.mjs).
    doNotFollow: { path: '^(node_modules|test|bench|.build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
