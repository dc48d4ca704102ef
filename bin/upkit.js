// What bin/upkit runs: `node bin/upkit.js -- <command> [options]`. Plain JavaScript, so that it
// needs no loader flag: it checks the Node version first (lib/nodeGate.ts's rule, in syntax
// any Node can read, before anything else is loaded), then picks the modules to run (below)
// and hands the command line to lib/commands/launcher.ts. Run it through bin/upkit: started as
// `node bin/upkit.js upgrade --env-file PATH`, Node reads --env-file itself.
var MIN_NODE = { major: 20, minor: 10 }; // lib/nodeGate.ts MIN_NODE (a unit test keeps them equal)
var version = process.versions.node;
var parts = version.split('.');
var major = parseInt(parts[0], 10) || 0;
var minor = parseInt(parts[1], 10) || 0;
if (major < MIN_NODE.major || (major === MIN_NODE.major && minor < MIN_NODE.minor)) {
  process.stderr.write(
    '\u2716 upkit needs Node ' +
      MIN_NODE.major +
      '.' +
      MIN_NODE.minor +
      ' or newer (22 or 24 recommended); this is Node ' +
      version +
      '\n',
  );
  process.exit(2);
}

var args = process.argv.slice(2);
if (args[0] === '--') args = args.slice(1);
// bin/upkit, beside this file (Node runs the real path of a linked main script).
var launcher = new URL('./upkit', import.meta.url);

// Which modules run, cheapest first (bench/startup measures each):
//  1. the compiled tree .build/ (`npm run build`, run by `npm ci`), when it is current: every
//     source .build/stamp.json lists still has the size and modification time it was compiled
//     from. A source edited since, or a tree from another build, and it is not used: upkit
//     never runs code older than its sources. UPKIT_COMPILED=0 turns it off.
//  2. A Node that strips TypeScript's types itself (22.18 and later, 24) runs the sources as
//     they are. Node never strips inside node_modules, so an upkit installed there without a
//     build goes through tsx.
//  3. tsx's loader, registered through its API.
var root = new URL('../', import.meta.url);
var nativeTypeScript =
  Boolean(process.features && process.features.typescript) && !/[\\/]node_modules[\\/]/.test(import.meta.url);

/** Whether .build/ was compiled from the sources as they are now. */
function compiledIsCurrent(fs) {
  if (process.env.UPKIT_COMPILED === '0') return false;
  var stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(new URL('.build/stamp.json', root), 'utf8'));
  } catch (e) {
    return false;
  }
  var files = stamp && stamp.files;
  if (!files || typeof files !== 'object') return false;
  var names = Object.keys(files);
  if (!names.length) return false;
  for (var i = 0; i < names.length; i++) {
    var st = fs.statSync(new URL(names[i], root), { throwIfNoEntry: false });
    if (!st || st.size !== files[names[i]].size || st.mtimeMs !== files[names[i]].mtimeMs) return false;
  }
  return true;
}

// Said in each run's log file (lib/cli.ts): which of the three ran.
var MODULES = Symbol.for('upkit.modules');

Promise.all([import('node:url'), import('node:fs')])
  .then((m) => {
    launcher = m[0].fileURLToPath(launcher);
    if (compiledIsCurrent(m[1])) {
      globalThis[MODULES] = 'compiled (.build/)';
      return import('../.build/lib/commands/launcher.js');
    }
    if (nativeTypeScript) {
      globalThis[MODULES] = 'TypeScript sources, types stripped by Node';
      return import('../lib/commands/launcher.ts');
    }
    globalThis[MODULES] = 'TypeScript sources through tsx';
    return import('tsx/esm/api').then((tsx) => {
      tsx.register();
      return import('../lib/commands/launcher.ts');
    });
  })
  .then((m) => m.launch(args, launcher))
  .then((code) => {
    process.exitCode = code;
  });
