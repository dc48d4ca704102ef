#!/usr/bin/env node
// Fails when a line in a file Biome formats is longer than biome.jsonc's lineWidth. Biome's
// formatter cannot break a long string, template literal or comment, and has no lint rule for
// it: this check does. Files: what git tracks or would track (.gitignore honoured) with an
// extension Biome formats, less the `!` entries of biome.jsonc's files.includes.
//
// node scripts/check-lines.mjs [--max N]: prints file:line: length, one line each; exit 1 when any.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Files that must stay as they are, whatever their lines: this package.json is the one packed in
// test/support/upkit-old-postgres-1.0.0.tgz (a unit test compares them; a repack changes the lock's checksum).
const EXEMPT = new Set(['test/support/old-postgres/package.json']);
const EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs', '.jsx', '.json', '.jsonc']);

/** JSON with comments and trailing commas, as biome.jsonc may be written, made plain JSON. */
function stripJsonc(text) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      // A string, copied whole: what looks like a comment inside it is not one.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

function readBiomeConfig() {
  try {
    return JSON.parse(stripJsonc(readFileSync(path.join(ROOT, 'biome.jsonc'), 'utf8')));
  } catch (err) {
    throw new Error(`biome.jsonc: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * A test for the paths biome.jsonc leaves out. Only the forms it uses are understood (a path,
 * a folder, `**\/*.ext`); any other refuses to run rather than check the wrong files.
 */
function excludedBy(includes) {
  const prefixes = [];
  const extensions = [];
  for (const entry of includes) {
    if (!entry.startsWith('!')) continue;
    const pattern = entry.slice(1).replace(/^!/, '');
    const ext = /^\*\*\/\*(\.[A-Za-z0-9]+)$/.exec(pattern);
    if (ext) extensions.push(ext[1]);
    else if (!/[*?[\]{}]/.test(pattern)) prefixes.push(pattern.replace(/\/$/, ''));
    else throw new Error(`biome.jsonc files.includes "${entry}": scripts/check-lines.mjs does not understand it`);
  }
  return (file) =>
    extensions.some((e) => file.endsWith(e)) || prefixes.some((p) => file === p || file.startsWith(`${p}/`));
}

function filesToCheck(config) {
  const excluded = excludedBy(config.files?.includes ?? []);
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const files = new Set(listed.split('\0').filter(Boolean));
  return [...files].filter((f) => EXTENSIONS.has(path.extname(f)) && !excluded(f) && !EXEMPT.has(f)).sort();
}

function main() {
  const config = readBiomeConfig();
  const { values } = parseArgs({ options: { max: { type: 'string' } }, strict: true });
  const max = Number(values.max ?? config.formatter?.lineWidth ?? 80);
  if (!Number.isInteger(max) || max < 1) throw new Error(`--max ${values.max}: give a whole number of columns`);
  let long = 0;
  let files = 0;
  for (const file of filesToCheck(config)) {
    let text;
    try {
      text = readFileSync(path.join(ROOT, file), 'utf8');
    } catch (err) {
      // Listed by git but deleted in the work tree.
      if (err.code === 'ENOENT') continue;
      throw err;
    }
    files++;
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const length = [...lines[i]].length;
      if (length > max) {
        long++;
        process.stdout.write(`${file}:${i + 1}: ${length}\n`);
      }
    }
  }
  if (long) {
    process.stderr.write(
      `\u2716 ${long} line${long === 1 ? '' : 's'} longer than ${max} characters in ${files} files\n`,
    );
    process.stderr.write(
      '\u2192 break them by hand (Biome cannot split strings and comments), then run: npm run lint\n',
    );
    process.exit(1);
  }
  process.stdout.write(`\u2714 ${files} files, no line longer than ${max} characters\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`\u2716 ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
