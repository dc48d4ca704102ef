#!/usr/bin/env zx
// Read-only readiness checks (npx zx scripts/preflight.ts --help).
import { runCommand } from '../lib/cli.ts';
import { preflightCommand } from '../lib/commands/preflight.ts';

process.exitCode = await runCommand(preflightCommand, import.meta.url);
