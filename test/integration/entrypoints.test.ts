import { describe, expect, it } from 'vitest';
import { runUpkit } from '../support/cli.ts';

// As an operator types `npx zx FILE`: through zx and the tsx loader, never the compiled tree.
describe('entry points', () => {
  it.each([
    'upgrade.ts',
    'install.ts',
    'verify/index.ts',
    'scripts/demo.ts',
    'scripts/rollback.ts',
    'scripts/health.ts',
    'scripts/preflight.ts',
    'scripts/status.ts',
    'scripts/backup.ts',
    'scripts/restore.ts',
    'scripts/mark.ts',
  ])('%s --help prints its usage and exits 0', async (entry) => {
    const r = await runUpkit(entry, ['--help'], { via: 'zx' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: npx zx ${entry.replace('.', '\\.')}`));
    expect(r.stdout).toContain('exit codes: 0 ok');
  });

  it('refuses a missing positional argument with exit 2', async () => {
    const r = await runUpkit('scripts/restore.ts', [], { via: 'zx' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('✖ missing FILE');
  });
});
