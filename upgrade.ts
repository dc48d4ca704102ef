#!/usr/bin/env zx
// Upgrade a Pulse install to the latest release (npx zx upgrade.ts --help).
import { runCommand } from './lib/cli.ts';
import { upgradeCommand } from './lib/commands/upgrade.ts';

process.exitCode = await runCommand(upgradeCommand, import.meta.url);
