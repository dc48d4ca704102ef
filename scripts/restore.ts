#!/usr/bin/env zx
// See: npx zx scripts/restore.ts --help
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import '../lib/nodeGate.ts';
import { runCommand } from '../lib/cli.ts';
import { restoreCommand } from '../lib/commands/restore.ts';

process.exitCode = await runCommand(restoreCommand, import.meta.url);
