#!/usr/bin/env zx
// See: npx zx scripts/backup.ts --help
import { runCommand } from '../lib/cli.ts';
import { backupCommand } from '../lib/commands/backup.ts';

process.exitCode = await runCommand(backupCommand, import.meta.url);
