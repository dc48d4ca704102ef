// The `backup` section of BENCHMARKS.md holds one part per size (`### 1 GB`, `### 10 GB`),
// each written by its own run, and what earlier versions of this benchmark measured: a run
// replaces its own part and keeps the others.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.ts';
import { writeSection } from '../support.ts';

const INTRO = [
  'Backup and restore as an operator runs them (`bin/upkit`, ' +
    'a new process each time, configuration read from a private .env),',
  'against the PostgreSQL programs they wrap, on two data shapes: a `pgbench -i` database (one dominant table of',
  "near-identical rows, very compressible) and Pulse's v2.3 " +
    'fixture (a dozen tables of varied rows, indexes, jsonb). Each',
  'restore is checked against the row counts of every table. ' +
    '`npm run bench:backup` measures 1 GB; `npm run bench:backup:10g`',
  'measures 10 GB.',
].join('\n');

const EARLIER = '### Earlier figures';

export function writeBackupSection(sizeGb: number, body: string): void {
  const heading = `### ${sizeGb} GB`;
  const text = readFileSync(path.join(PROJECT_ROOT, 'BENCHMARKS.md'), 'utf8');
  const start = text.indexOf('\n## backup\n');
  const end = start === -1 ? -1 : text.indexOf('\n## ', start + 1);
  const section = start === -1 ? '' : text.slice(start, end === -1 ? undefined : end);
  const parts = new Map<string, string>();
  for (const part of section.split('\n### ').slice(1)) {
    const [title, ...rest] = part.split('\n');
    parts.set(`### ${title}`, rest.join('\n').trim());
  }
  parts.set(heading, body.trim());
  const order = [...parts.keys()]
    .filter((h) => h !== EARLIER)
    .sort((a, b) => parseFloat(a.slice(4)) - parseFloat(b.slice(4)));
  if (parts.has(EARLIER)) order.push(EARLIER);
  writeSection('backup', [INTRO, ...order.map((h) => `${h}\n\n${parts.get(h)}`)].join('\n\n'));
}
