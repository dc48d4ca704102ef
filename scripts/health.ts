#!/usr/bin/env zx
// See: npx zx scripts/health.ts --help
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import '../lib/nodeGate.ts';
import { runCommand } from '../lib/cli.ts';
import { healthCommand } from '../lib/commands/health.ts';

process.exitCode = await runCommand(healthCommand, import.meta.url);
