#!/usr/bin/env zx
// See: npx zx scripts/demo.ts --help
import { runCommand } from '../lib/cli.ts';
import { demoCommand } from '../lib/commands/demo.ts';

process.exitCode = await runCommand(demoCommand, import.meta.url);
