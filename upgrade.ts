#!/usr/bin/env zx
// Upgrade a Pulse install to the latest release (npx zx upgrade.ts --help).
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import './lib/nodeGate.ts';
import { runCommand } from './lib/cli.ts';
import { upgradeCommand } from './lib/commands/upgrade.ts';

process.exitCode = await runCommand(upgradeCommand, import.meta.url);
