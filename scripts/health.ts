#!/usr/bin/env zx
// See: npx zx scripts/health.ts --help
import { runCommand } from '../lib/cli.ts';
import { healthCommand } from '../lib/commands/health.ts';

process.exitCode = await runCommand(healthCommand, import.meta.url);
