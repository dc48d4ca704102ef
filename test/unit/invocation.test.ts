// Commands to paste, in the form the process was started with: `npx zx ENTRY`, or the
// launcher's absolute path (quoted) and the command's name.
import { afterEach, describe, expect, it } from 'vitest';
import { commandPattern, LAUNCHER_COMMANDS, pasteForm, useLauncher } from '../../lib/invocation.ts';
import { redact } from '../../lib/redact.ts';
import { localize } from '../../lib/targets/env.ts';

afterEach(() => useLauncher(undefined));

describe('pasteForm', () => {
  it('leaves every command as it is unless started through the launcher', () => {
    expect(pasteForm('then run: npx zx upgrade.ts --dry-run')).toBe('then run: npx zx upgrade.ts --dry-run');
    expect(redact('then run: npx zx scripts/preflight.ts')).toBe('then run: npx zx scripts/preflight.ts');
  });

  it('writes each of the ten entry files as the launcher and its command, the path quoted', () => {
    useLauncher('/opt/up kit/bin/upkit');
    for (const [name, entry] of Object.entries(LAUNCHER_COMMANDS))
      expect(pasteForm(`run: npx zx ${entry} --help`)).toBe(`run: '/opt/up kit/bin/upkit' ${name} --help`);
    expect(redact('fix it (npx zx verify/index.ts lists them), then run: npx zx upgrade.ts')).toBe(
      "fix it ('/opt/up kit/bin/upkit' verify lists them), then run: '/opt/up kit/bin/upkit' upgrade",
    );
  });

  it('leaves what is not one of its commands whole', () => {
    useLauncher('/opt/upkit/bin/upkit');
    for (const text of [
      'npx zx scripts/demo.ts',
      'npx zx upgrade.tsx',
      'npx zx scripts/preflight.ts.bak',
      'npx zx verify/index.tsv',
    ])
      expect(pasteForm(text)).toBe(text);
  });

  it('still lets a run over targets add --target to the launcher form', () => {
    useLauncher('/opt/upkit/bin/upkit');
    const target = { name: 'orders', prefix: 'ORDERS_', profile: { kind: 'pulse' as const }, after: [] };
    expect(localize(redact('then run: npx zx scripts/preflight.ts'), target, '')).toBe(
      'then run: /opt/upkit/bin/upkit preflight --target orders',
    );
    expect(localize(redact('then run: npx zx scripts/restore.ts x.dump'), target, '')).toBe(
      'then run: /opt/upkit/bin/upkit restore x.dump',
    );
    expect('/opt/upkit/bin/upkit upgradeX'.replace(commandPattern(['upgrade.ts']), '$1 --target orders')).toBe(
      '/opt/upkit/bin/upkit upgradeX',
    );
  });
});
