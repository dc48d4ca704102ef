#!/usr/bin/env zx
// Read-only verification of an install, for support staff (npx zx verify/index.ts --help).
import { runCommand } from '../lib/cli.ts';
import { verifyCommand } from '../lib/commands/verify.ts';

process.exitCode = await runCommand(verifyCommand, import.meta.url);
