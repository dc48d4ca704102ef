#!/usr/bin/env zx
// Read-only readiness checks (npx zx scripts/preflight.ts --help).
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import '../lib/nodeGate.ts';
import { runCommand } from '../lib/cli.ts';
import { preflightCommand } from '../lib/commands/preflight.ts';

process.exitCode = await runCommand(preflightCommand, import.meta.url);
