#!/usr/bin/env zx
// See: npx zx scripts/restore.ts --help
import { runCommand } from '../lib/cli.ts';
import { restoreCommand } from '../lib/commands/restore.ts';

process.exitCode = await runCommand(restoreCommand, import.meta.url);
