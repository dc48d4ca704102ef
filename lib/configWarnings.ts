// Configuration warnings (what loadConfig allowed but found odd) as a person and the report see them.
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { ReportBuilder } from './report.ts';

/** What loadConfig allowed but found odd (a key set twice in .env, …): a ⚠ line, its hint, a finding. */
export function showConfigWarnings(config: Pick<Config, 'warnings'>, log: Logger, report: ReportBuilder): void {
  for (const w of config.warnings) {
    report.finding('warning', w.code, w.message, w.hint);
    log.warn(w.message);
    log.info(`  → ${w.hint}`);
  }
}
