#!/usr/bin/env zx
// Install Pulse on an empty or missing database (npx zx install.ts --help).
import { runCommand } from './lib/cli.ts';
import { installCommand } from './lib/commands/install.ts';

process.exitCode = await runCommand(installCommand, import.meta.url);
