#!/usr/bin/env zx
// See: npx zx scripts/rollback.ts --help
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import '../lib/nodeGate.ts';
import { runCommand } from '../lib/cli.ts';
import { rollbackCommand } from '../lib/commands/rollback.ts';

process.exitCode = await runCommand(rollbackCommand, import.meta.url);
