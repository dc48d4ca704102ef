#!/usr/bin/env zx
// See: npx zx scripts/status.ts --help
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import '../lib/nodeGate.ts';
import { runCommand } from '../lib/cli.ts';
import { statusCommand } from '../lib/commands/status.ts';

process.exitCode = await runCommand(statusCommand, import.meta.url);
