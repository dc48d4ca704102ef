// upkit's own version (package.json), for reports and the runs ledger. Read beside this file's
// folder without lib/config.ts, so that `--version` and `--help` load nothing heavier.
import { readFileSync } from 'node:fs';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
