// upkit's library entry for applications: `import { upgrade, verify } from 'upkit'`.
// upkit is TypeScript run by tsx, and Node strips no types inside node_modules: the library
// (lib/api.ts) is loaded through tsx's ESM API, scoped to upkit's own modules, so that the
// app's plain `node` needs no loader flag and its own modules are left to it.
import { tsImport } from 'tsx/esm/api';

const api = await tsImport('./lib/api.ts', import.meta.url);

export const upgrade = api.upgrade;
export const verify = api.verify;
export const EXIT = api.EXIT;
