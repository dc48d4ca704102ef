#!/usr/bin/env zx
// See: npx zx scripts/rollback.ts --help
import { runCommand } from '../lib/cli.ts';
import { rollbackCommand } from '../lib/commands/rollback.ts';

process.exitCode = await runCommand(rollbackCommand, import.meta.url);
