// docs/FAILURES.md is generated from the catalogue (test/failures/catalogue.ts), the same
// objects the failure tests read their expectations from, so the two cannot drift:
// test/integration/failures-doc.test.ts fails when the file is not what this renders.
//
//   npx tsx test/failures/render.ts          rewrite docs/FAILURES.md
//   npx tsx test/failures/render.ts --check  exit 1 when it is stale
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASES } from './catalogue.ts';
import { FREE } from './match.ts';
import { commandLine, GROUPS, type FailureCase, type GroupId } from './types.ts';

export const DOC_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/FAILURES.md');

const EXIT_MEANING: Record<number, string> = {
  0: 'ok, with a warning',
  1: 'failed after changes began',
  2: 'usage or configuration',
  3: 'refused, nothing changed',
  4: 'verification found problems',
  5: 'another run holds the lock',
  6: 'health checks failed',
  130: 'interrupted',
};

function fence(lines: string[]): string {
  return ['```text', ...lines, '```'].join('\n');
}

function entry(c: FailureCase, n: number): string {
  const out: string[] = [`### ${n}. ${c.title}`, '', c.did, ''];
  const env = Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`);
  out.push(`- **command**: \`${commandLine(c)}\`${env.length ? ` with ${env.map((e) => `\`${e}\``).join(', ')}` : ''}`);
  if (c.dotenv !== undefined) {
    out.push(
      '- **`.env`** in the working directory:',
      '',
      fence(c.dotenv.trimEnd().split('\n')).replace(/^/gm, '  '),
      '',
    );
  }
  const symbol = c.severity === 'warning' ? '⚠' : c.severity === 'info' ? 'ℹ' : '✖';
  const shown = [
    `${symbol} ${c.step ? `${c.step}  ` : ''}${c.message}${c.step ? ' ({ms} ms)' : ''}`,
    ...(c.details ?? []).map((d) => `    ${d}`),
    ...(c.hint === null ? [] : [`  → ${c.hint}`]),
  ];
  out.push(
    `- **output** (stderr; the \`--json\` report` +
      `${
        c.json === false
          ? ' is not checked for this case'
          : ` has the finding \`${c.code}\` with the same message and hint`
      }):`,
    '',
    fence(shown).replace(/^/gm, '  '),
    '',
  );
  out.push(`- **exit code**: ${c.exit} (${EXIT_MEANING[c.exit]})`);
  out.push(`- **database**: ${c.changed}`);
  if (c.note) out.push(`- **note**: ${c.note}`);
  out.push(`- **test**: [\`${c.id}\`](../test/integration/${c.test}) in \`test/integration/${c.test}\``);
  return out.join('\n');
}

export function renderFailuresDoc(cases: readonly FailureCase[] = CASES): string {
  const groups = Object.keys(GROUPS) as GroupId[];
  const ordered = groups.flatMap((g) => cases.filter((c) => c.group === g));
  const number = new Map(ordered.map((c, i) => [c.id, i + 1]));
  const parts: string[] = [
    '# Failures an operator can meet',
    '',
    '<!-- Generated from test/failures/catalogue.ts by `npx tsx test/failures/render.ts`; do not edit by hand. -->',
    '',
    `${ordered.length} bad inputs and mishaps, each with the command that meets it, the exact line upkit prints,`,
    'the hint after `→`, the exit code, and what changed in the database. Every entry is an',
    'integration test against a real PostgreSQL server: the test runs the command, checks the exit',
    'code, the line, the lines under it and the hint exactly (and the same finding in the `--json`',
    "report), and compares the database's schema, rows and ledgers before and after.",
    '',
    'The expectations live in one place, `test/failures/catalogue.ts`: the tests read them from it and',
    'this page is generated from it (`test/integration/failures-doc.test.ts` fails when the page is',
    'stale, or when a case has no test).',
    '',
    'Lines are shown as they appear without a terminal, minus the leading UTC timestamp. `{name}`',
    'stands for a value of the run (host, port, database, file, pid), which the test fills in and then',
    `matches exactly; ${Object.keys(FREE)
      .map((k) => `\`{${k}}\``)
      .join(', ')} stand for a duration, a timestamp, a`,
    'size or a digest that no test can know in advance.',
    '',
    '| # | case | exit |',
    '| --- | --- | --- |',
    ...ordered.map((c) => `| ${number.get(c.id)} | ${c.title} | ${c.exit} |`),
    '',
  ];
  for (const g of groups) {
    const inGroup = ordered.filter((c) => c.group === g);
    if (!inGroup.length) continue;
    parts.push(`## ${GROUPS[g]}`, '');
    for (const c of inGroup) parts.push(entry(c, number.get(c.id)!), '');
  }
  return `${parts.join('\n').trimEnd()}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = renderFailuresDoc();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(DOC_PATH, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      process.stderr.write(`${DOC_PATH} is stale: run npx tsx test/failures/render.ts\n`);
      process.exitCode = 1;
    }
  } else {
    writeFileSync(DOC_PATH, text);
    process.stderr.write(`wrote ${DOC_PATH} (${CASES.length} cases)\n`);
  }
}
