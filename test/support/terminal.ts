// upkit on a terminal: a pseudo-terminal made by util-linux `script`, the answer typed into
// it once upkit asks.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { shellQuote } from '../../lib/quote.ts';
import { ROOT } from './cli.ts';

/** Whether `script` is there to make a pseudo-terminal. */
export const hasScript = spawnSync('script', ['--version']).status === 0;

/** Runs upkit on a pseudo-terminal; types `answer` once the question is shown. */
export function onTerminal(
  cwd: string,
  env: Record<string, string>,
  args: string[],
  answer: string,
  entry = 'upgrade.ts',
): Promise<{ code: number | null; output: string }> {
  const tsx = import.meta.resolve('tsx');
  const command = [
    process.execPath,
    '--import',
    tsx,
    path.join(ROOT, 'node_modules/zx/build/cli.js'),
    path.join(ROOT, entry),
    ...args,
  ]
    .map(shellQuote)
    .join(' ');
  const logDir = mkdtempSync(path.join(tmpdir(), 'upkit-logs-'));
  const child = spawn('script', ['-qec', `${command}; echo "EXIT $?"`, '/dev/null'], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NO_COLOR: '1',
      TERM: 'dumb',
      UPKIT_LOG_DIR: logDir,
      UPKIT_CACHE_DIR: path.join(logDir, 'cache'),
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let answered = false;
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const onData = (d: Buffer) => {
    output += d.toString();
    if (!answered && output.includes('Type yes to go on:')) {
      answered = true;
      child.stdin.write(`${answer}\r`);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => {
    child.on('close', () => {
      clearTimeout(timer);
      const m = /EXIT (\d+)/.exec(output);
      resolve({ code: m ? Number(m[1]) : null, output: output.replace(/\r/g, '') });
    });
  });
}
