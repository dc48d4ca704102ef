// `npm run build` (also run by `npm ci` and `npm install` through the postinstall script): compiles upkit's TypeScript
// modules to plain JavaScript in .build/, one file per module, so that a Node that cannot
// strip types itself (20, 22 before 22.18) starts upkit without a TypeScript loader.
//  - Which modules: every local module reachable from the launcher, the entry files and the
//    library (esbuild follows static and dynamic imports), each compiled on its own: every
//    import stays an import (packages, node:, and upkit's own modules with `.ts` rewritten
//    to `.js`), nothing is bundled.
//  - `import.meta.url` in a compiled module still means its source file (lib/config.ts's
//    PROJECT_ROOT finds package.json, drizzle/ and legacy-sql/ from it), written relative
//    to the compiled file so that the folder may move with upkit.
//  - .build/stamp.json lists each source with its size and modification time: bin/upkit.js
//    uses the compiled tree only while every source still matches (lib/buildStamp.js).
// Plain JavaScript, so that it runs on any supported Node with no loader: `node scripts/build.mjs`.
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** tsx's own esbuild (tsx is a dependency of upkit's, so `npm ci --omit=dev` has it), wherever npm put it. */
const loadEsbuild = () => createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))('esbuild');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, '.build');
/** Where upkit starts: the launcher's module, the entry files and the library. */
const ENTRIES = [
  'lib/commands/launcher.ts',
  'lib/api.ts',
  'upgrade.ts',
  'install.ts',
  'verify/index.ts',
  ...['backup', 'health', 'mark', 'preflight', 'restore', 'rollback', 'status'].map((n) => `scripts/${n}.ts`),
];
const SOURCE_URL = '__upkitSourceUrl';

const rel = (file) => path.relative(ROOT, file).split(path.sep).join('/');
/** A word for a POSIX shell, quoted when it needs to be. */
const shellQuote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The local modules reachable from the entries (static and dynamic imports), as paths from ROOT. */
async function reachable(esbuild) {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outdir: OUT,
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs)
    .filter((f) => f.endsWith('.ts'))
    .sort();
}

/** Every import external, upkit's own `.ts` rewritten to `.js`; import.meta.url made the source's. */
const perModule = {
  name: 'upkit-per-module',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const local = args.path.startsWith('./') || args.path.startsWith('../');
      return { path: local ? args.path.replace(/\.ts$/, '.js') : args.path, external: true };
    });
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      if (/\bimport\.meta\.url\b/.test(text)) {
        const compiled = path.join(OUT, path.relative(ROOT, args.path)).replace(/\.ts$/, '.js');
        const back = path.relative(path.dirname(compiled), args.path).split(path.sep).join('/');
        text = text.replace(/\bimport\.meta\.url\b/g, SOURCE_URL);
        // A module's imports are hoisted above this line; what runs first still sees it.
        const line = `const ${SOURCE_URL} = new URL(${JSON.stringify(back)}, import.meta.url).href;\n`;
        const hashbang = /^#!.*\n/.exec(text)?.[0] ?? '';
        text = hashbang + line + text.slice(hashbang.length);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

export async function build() {
  const esbuild = loadEsbuild();
  const sources = await reachable(esbuild);
  const tmp = `${OUT}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: sources,
    outbase: ROOT,
    outdir: tmp,
    outExtension: { '.js': '.js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.10',
    plugins: [perModule],
    logLevel: 'warning',
  });
  // The build script itself too: a changed build makes every compiled tree out of date.
  const stamp = {
    files: Object.fromEntries(
      [...sources, 'scripts/build.mjs'].map((s) => {
        const st = statSync(path.join(ROOT, s));
        return [s, { size: st.size, mtimeMs: st.mtimeMs }];
      }),
    ),
  };
  writeFileSync(path.join(tmp, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(path.join(tmp, 'stamp.json'), `${JSON.stringify(stamp, null, 1)}\n`);
  // Swapped in whole: a start-up never sees a tree half written.
  rmSync(OUT, { recursive: true, force: true });
  renameSync(tmp, OUT);
  return { out: OUT, modules: sources.length };
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  try {
    const { out, modules } = await build();
    process.stdout.write(`compiled ${modules} modules to ${rel(out)}/\n`);
  } catch (err) {
    const why = err?.code
      ? `cannot write ${OUT}: ${err.code}`
      : err instanceof Error
        ? err.message.split('\n')[0]
        : String(err);
    process.stderr.write(`\u2716 upkit's modules were not compiled (${why})\n`);
    process.stderr.write(
      `  \u2192 upkit runs from its TypeScript sources until then; run: ` +
        `cd ${shellQuote(ROOT)} && npm run build, as a user who may write there\n`,
    );
    // From `npm ci` (postinstall): the install goes on, and upkit runs from its sources.
    process.exitCode = process.argv.includes('--from-install') ? 0 : 1;
  }
}
