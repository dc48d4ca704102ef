// Hardening cases (issue 12): see test/failures/catalogue.ts for what a case is.
import type { FailureCase } from '../types.ts';

export const schemaCases: FailureCase[] = [];
