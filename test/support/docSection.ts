// Writes one "## name" section of a results document (BENCHMARKS.md, RELIABILITY.md), keeping
// every other section as it is: each benchmark or reliability run owns its section.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../lib/config.ts';

export function writeDocSection(fileName: string, intro: string, name: string, body: string): void {
  const file = path.join(PROJECT_ROOT, fileName);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : `${intro.trim()}\n`;
  const heading = `## ${name}`;
  const start = text.indexOf(`\n${heading}\n`);
  const section = `\n${heading}\n\n${body.trim()}\n`;
  let next: string;
  if (start === -1) next = `${text.trimEnd()}\n${section}`;
  else {
    const after = text.indexOf('\n## ', start + heading.length + 1);
    next = `${text.slice(0, start)}${section}${after === -1 ? '' : text.slice(after)}`;
  }
  writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}
