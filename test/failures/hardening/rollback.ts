// Hardening cases, part two: see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const rollbackCases: FailureCase[] = [];
