// The one place a profile is chosen (the commands call it): Pulse for Pulse's own drizzle
// folder, any other folder is an app of its own.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { Profile } from '../lib/profileTypes.ts';
import { appProfile } from './app.ts';
import { isPulseFolder, PULSE_LEGACY_DIR, pulseProfile } from './pulse.ts';

function same(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

export function profileFor(folders: {
  drizzleDir: string;
  legacyDir: string;
  repeatableDir?: string | undefined;
}): Profile {
  if (isPulseFolder(folders.drizzleDir)) return pulseProfile(folders);
  // Pulse's legacy folder (the default) is no other app's.
  return appProfile(
    folders.drizzleDir,
    same(folders.legacyDir, PULSE_LEGACY_DIR) ? undefined : folders.legacyDir,
    folders.repeatableDir,
  );
}

export { appProfile } from './app.ts';
export { pulseProfile } from './pulse.ts';
