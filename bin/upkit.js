// What bin/upkit runs: `node bin/upkit.js -- <command> [options]`. Plain JavaScript, so that it
// needs no loader flag: it checks the Node version first (lib/nodeGate.ts's rule, in syntax
// any Node can read, before anything else is loaded), then registers tsx through its API and
// hands the command line to lib/commands/launcher.ts. Run it through bin/upkit: started as
// `node bin/upkit.js upgrade --env-file PATH`, Node reads --env-file itself.
var MIN_NODE = { major: 20, minor: 10 }; // lib/nodeGate.ts MIN_NODE (a unit test keeps them equal)
var version = process.versions.node;
var parts = version.split('.');
var major = parseInt(parts[0], 10) || 0;
var minor = parseInt(parts[1], 10) || 0;
if (major < MIN_NODE.major || (major === MIN_NODE.major && minor < MIN_NODE.minor)) {
  process.stderr.write('\u2716 upkit needs Node ' + MIN_NODE.major + '.' + MIN_NODE.minor + ' or newer (22 or 24 recommended); this is Node ' + version + '\n');
  process.exit(2);
}

var args = process.argv.slice(2);
if (args[0] === '--') args = args.slice(1);
// bin/upkit, beside this file (Node runs the real path of a linked main script).
var launcher = new URL('./upkit', import.meta.url);

// A Node that strips TypeScript's types itself (22.18 and later, 24) runs upkit's modules as
// they are: no loader to load, a fifth of a second less at every start (bench/startup). Node
// never strips inside node_modules, so an upkit installed there goes through tsx as before.
var nativeTypeScript = Boolean(process.features && process.features.typescript) && !/[\\/]node_modules[\\/]/.test(import.meta.url);

import('node:url')
  .then(function (url) {
    launcher = url.fileURLToPath(launcher);
    return nativeTypeScript ? undefined : import('tsx/esm/api');
  })
  .then(function (tsx) {
    if (tsx) tsx.register();
    return import('../lib/commands/launcher.ts');
  })
  .then(function (m) {
    return m.launch(args, launcher);
  })
  .then(function (code) {
    process.exitCode = code;
  });
