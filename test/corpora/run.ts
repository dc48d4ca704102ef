// npm run test:corpora -- [--write] [--out FILE] [--allow-destructive] DIR...
//
// Real projects' drizzle migration folders, each against drizzle's own tools on a throwaway
// cluster of this machine's PostgreSQL, one corpus at a time (runner.ts does the work):
// upkit's documented fresh install (`install.ts --drizzle-dir DIR`, no other flag) against
// drizzle-orm's migrate() (or psql statement by statement where drizzle's one transaction
// cannot run the folder), half the journal by one and the rest by the other, verify on both
// databases, no-op reruns, the lint on a database with rows, and wall times against
// `npx drizzle-kit migrate`. Prints a table, writes it (and every detail as JSON) to --out
// (default .corpora/results.md), and with --write to RELIABILITY.md ("Real-world corpora").
// --allow-destructive: upkit's installs by `upgrade.ts --yes --no-backup --allow-destructive`
// on the empty database (install.ts takes no such flag) and its upgrades with the flag: what
// the engine does once the lint lets it through; its own file and section.
// --render FILE.json: the table again from a run's JSON (and --write), without running.
// Exit 0 when every corpus ran (whatever it found), 1 when the runner itself failed, 2 on usage.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { findSystemInstalls } from '../support/servers/discover.ts';
import { startSystemServer } from '../support/servers/system.ts';
import { connectUrlServer } from '../support/servers/url.ts';
import { machineLine, writeReliabilitySection } from '../reliability/report.ts';
import { renderResults } from './table.ts';
import { runCorpus, type CorpusResult } from './runner.ts';

function usage(message: string): never {
  console.error(
    `${message}\nusage: npm run test:corpora -- [--write] [--out FILE] [--allow-destructive] ` +
      `DIR...   (each DIR a drizzle migrations folder: DIR/meta/_journal.json)`,
  );
  process.exit(2);
}

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        write: { type: 'boolean', default: false },
        out: { type: 'string' },
        'allow-destructive': { type: 'boolean', default: false },
        render: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return usage((err as Error).message);
  }
})();
if (parsed.values.render) {
  // Only the table again, from a run's JSON (its first line says where and when it ran).
  const file = path.resolve(parsed.values.render);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as {
    meta: Parameters<typeof renderResults>[1];
    results: CorpusResult[];
  };
  const body = renderResults(saved.results, saved.meta);
  console.log(body);
  writeFileSync(file.replace(/\.json$/, '.md'), `${body}\n`);
  if (parsed.values.write)
    writeReliabilitySection(
      saved.meta.allowDestructive ? 'Real-world corpora: upkit with --allow-destructive' : 'Real-world corpora',
      body,
    );
  process.exit(0);
}
const dirs = parsed.positionals.map((d) => path.resolve(d));
if (dirs.length === 0) usage('name at least one drizzle folder');
for (const d of dirs)
  if (!existsSync(path.join(d, 'meta', '_journal.json'))) usage(`${d}: no meta/_journal.json there`);
const allowDestructive = parsed.values['allow-destructive'] === true;
const out = path.resolve(
  parsed.values.out ??
    path.join(PROJECT_ROOT, '.corpora', allowDestructive ? 'results-allow-destructive.md' : 'results.md'),
);
const section = allowDestructive ? 'Real-world corpora: upkit with --allow-destructive' : 'Real-world corpora';

const server = process.env.CORPORA_DATABASE_URL
  ? await connectUrlServer(process.env.CORPORA_DATABASE_URL)
  : await (async () => {
      const install = (await findSystemInstalls())[0];
      if (!install)
        usage(
          'no PostgreSQL binaries found: install postgresql, ' +
            'or set CORPORA_DATABASE_URL to a superuser URL of a throwaway server',
        );
      return startSystemServer({ binDir: install.binDir });
    })();
const binDir = server.binDir ?? (await findSystemInstalls())[0]?.binDir;
if (!binDir) usage('pg_dump and psql of the server major are needed');
const started = performance.now();
const results: CorpusResult[] = [];
try {
  console.log(`corpora: ${dirs.length} folder(s), PostgreSQL ${server.version} (${server.source})`);
  for (const dir of dirs) {
    const t0 = performance.now();
    const r = await runCorpus(server, binDir, dir, (line) => console.log(`  ${path.basename(dir)}: ${line}`), {
      allowDestructive,
    });
    results.push(r);
    console.log(`  ${r.name}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
} finally {
  await server.stop();
}
const minutes = ((performance.now() - started) / 60_000).toFixed(1);
// Each folder as given when outside the project, else relative to it.
const shownDirs = parsed.positionals.map((d) => {
  const relative = path.relative(PROJECT_ROOT, path.resolve(d));
  return relative.startsWith('..') ? d : relative;
});
const meta = {
  command: `npm run test:corpora -- ${allowDestructive ? '--allow-destructive ' : ''}${shownDirs.join(' ')}`,
  server: `PostgreSQL ${server.version} (${server.source})`,
  machine: machineLine(),
  minutes,
  allowDestructive,
};
const body = renderResults(results, meta);
console.log(`\n${body}`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${body}\n`);
writeFileSync(`${out.replace(/\.md$/, '')}.json`, `${JSON.stringify({ meta, results }, null, 2)}\n`);
console.log(`\nwritten to ${out} (and ${out.replace(/\.md$/, '')}.json)`);
if (parsed.values.write) {
  writeReliabilitySection(section, body);
  console.log(`RELIABILITY.md: section "${section}" updated`);
}
