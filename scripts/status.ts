#!/usr/bin/env zx
// See: npx zx scripts/status.ts --help
import { runCommand } from '../lib/cli.ts';
import { statusCommand } from '../lib/commands/status.ts';

process.exitCode = await runCommand(statusCommand, import.meta.url);
