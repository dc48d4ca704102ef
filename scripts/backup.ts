#!/usr/bin/env zx
// See: npx zx scripts/backup.ts --help
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import '../lib/nodeGate.ts';
import { runCommand } from '../lib/cli.ts';
import { backupCommand } from '../lib/commands/backup.ts';

process.exitCode = await runCommand(backupCommand, import.meta.url);
