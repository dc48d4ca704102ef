#!/usr/bin/env zx
// See: npx zx scripts/mark.ts --help
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import '../lib/nodeGate.ts';
import { runCommand } from '../lib/cli.ts';
import { markCommand } from '../lib/commands/mark.ts';

process.exitCode = await runCommand(markCommand, import.meta.url);
