#!/usr/bin/env zx
// Read-only verification of an install, for support staff (npx zx verify/index.ts --help).
// First: an older Node gets one line and exit 2, not an error from deep inside a dependency.
import '../lib/nodeGate.ts';
import { runCommand } from '../lib/cli.ts';
import { verifyCommand } from '../lib/commands/verify.ts';

process.exitCode = await runCommand(verifyCommand, import.meta.url);
