// Loads the demo (demo.ts) for scripts/demo.ts. The demo runs on the test harness, which only
// the full install brings (npm ci): after `npm ci --omit=dev`, the server install, a missing
// package is said in one line, with the command that brings it, instead of Node's stack trace.
// Imports nothing but upkit's own error module, so that it loads on any install.
import { UpkitError } from '../../lib/errors.ts';

export type Demo = typeof import('./demo.ts');

/** The package a failed import names, when it is one that is not installed. */
export function missingPackage(error: unknown): string | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' || typeof message !== 'string') return undefined;
  return /Cannot find (?:package|module) '((?:@[^/']+\/)?[^/']+)/.exec(message)?.[1];
}

export async function loadDemo(load: () => Promise<Demo> = () => import('./demo.ts')): Promise<Demo> {
  try {
    return await load();
  } catch (error) {
    const name = missingPackage(error);
    if (name === undefined || name.startsWith('.') || name.startsWith('/')) throw error;
    throw new UpkitError({
      code: 'demo.needs_full_install',
      exit: 'usage',
      message:
        `the demo needs upkit's full install (npm ci): ${name} is not ` +
        `installed here (a server install, npm ci --omit=dev, leaves it out)`,
      hint: 'run: npm ci, then npm run demo',
      cause: error,
    });
  }
}
