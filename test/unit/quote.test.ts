// What upkit prints for pasting is read back by the real bash: every hostile name must come
// back as the one word it was.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { composeCommandLine } from '../../lib/compose.ts';
import { shellQuote, sqlIdent, sqlLiteral } from '../../lib/quote.ts';

const HOSTILE = [
  '/tmp/pulse backups',
  "/srv/ops' copies/x.dump",
  '/a/"b" $HOME `id` !x \\y',
  'plain/path-1.dump',
  '',
  'ü ñ',
  'it\'s "both"',
];

function words(commandLine: string): string[] {
  return execFileSync('bash', ['-c', `for w in ${commandLine}; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' })
    .split('\0')
    .slice(0, -1);
}

describe('quoting for the shell', () => {
  it.each(HOSTILE)('bash reads %j back as one word', (name) => {
    expect(words(shellQuote(name))).toEqual([name]);
  });

  it('quotes the compose file in compose command lines', () => {
    expect(words(composeCommandLine(undefined, "/srv/pulse stack/it's.yml"))).toEqual([
      'docker',
      'compose',
      '-f',
      "/srv/pulse stack/it's.yml",
    ]);
  });
});

describe('quoting for SQL', () => {
  it('doubles quotes inside identifiers and literals', () => {
    expect(sqlIdent('Pulse "prod"-ü db')).toBe('"Pulse ""prod""-ü db"');
    expect(sqlLiteral("it's")).toBe("'it''s'");
  });
});
