#!/usr/bin/env zx
// See: npx zx scripts/mark.ts --help
import { runCommand } from '../lib/cli.ts';
import { markCommand } from '../lib/commands/mark.ts';

process.exitCode = await runCommand(markCommand, import.meta.url);
