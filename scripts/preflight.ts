#!/usr/bin/env zx
// Read-only readiness checks (npx zx scripts/preflight.ts --help).
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
// The rest is imported only after the gate has run: Node parses a module's whole static
// import graph before it runs any of it, so a static import would fail first on an old Node.
import '../lib/nodeGate.ts';
const { runEntry } = await import('../lib/cliEntry.ts');
const { preflightCommand } = await import('../lib/commands/preflight.ts');

process.exitCode = await runEntry(preflightCommand, import.meta.url);
