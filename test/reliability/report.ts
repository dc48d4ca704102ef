// RELIABILITY.md: each reliability run (npm run test:matrix, test:crash, test:soak) rewrites
// its own section with the date, the machine and the figures it measured.
import os from 'node:os';
import { writeDocSection } from '../support/docSection.ts';

const INTRO = `# Reliability

Each section is written by the command named in it; rerun that command to refresh it. The
figures are what the run measured on the machine it names, never typed in by hand.
`;

export function writeReliabilitySection(name: string, body: string): void {
  writeDocSection('RELIABILITY.md', INTRO, name, body);
}

/** One line naming when and where a run was measured. */
export function machineLine(): string {
  const cpus = os.cpus();
  const gib = Math.round(os.totalmem() / 2 ** 30);
  return (
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus.length} cores (` +
    `${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${gib} GiB, Node ${process.version}.`
  );
}
