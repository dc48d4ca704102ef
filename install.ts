#!/usr/bin/env zx
// Install Pulse on an empty or missing database (npx zx install.ts --help).
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import './lib/nodeGate.ts';
import { runCommand } from './lib/cli.ts';
import { installCommand } from './lib/commands/install.ts';

process.exitCode = await runCommand(installCommand, import.meta.url);
