#!/usr/bin/env zx
// See: npx zx scripts/backup.ts --help
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
// The rest is imported only after the gate has run: Node parses a module's whole static
// import graph before it runs any of it, so a static import would fail first on an old Node.
import '../lib/nodeGate.ts';
const { runEntry } = await import('../lib/cliEntry.ts');
const { backupCommand } = await import('../lib/commands/backup.ts');

process.exitCode = await runEntry(backupCommand, import.meta.url);
