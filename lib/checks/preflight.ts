// Preflight's view of the next upgrade: the plan made as the upgrade makes it (read-only),
// its refusals and what the checks before the first write find. A destructive statement is
// left to the upgrade, where --allow-destructive decides.
import type { Config } from '../config.ts';
import { filesToRun, loadContent, parseFiles } from '../content.ts';
import { connect, withTransaction } from '../db.ts';
import { inspect } from '../inspect.ts';
import { isEmptyPlan, plan as makePlan, type Problem } from '../plan.ts';
import type { Profile } from '../profileTypes.ts';
import { checkBeforeWrite } from './index.ts';
import { plural } from '../plural.ts';

export async function pendingChangeProblems(
  config: Config,
  profile: Profile,
): Promise<{ summary: string; problems: Problem[] }> {
  const content = loadContent(profile);
  const client = await connect(config.migrationDb, config, { applicationName: 'upkit preflight' });
  try {
    return await withTransaction(
      client,
      async () => {
        const inspection = await inspect(client, config, content);
        const options = { allowDestructive: true, latestRelease: profile.latestRelease, now: Date.now() };
        await parseFiles(content, filesToRun(makePlan(inspection, content, options).steps));
        const plan = makePlan(inspection, content, options);
        const problems = [...plan.refusals, ...(await checkBeforeWrite(client, plan, content))];
        const summary = isEmptyPlan(plan)
          ? `nothing pending (${plan.to ?? 'empty'})`
          : `${plan.from ?? 'empty'} → ${plan.to ?? 'empty'}: ` +
            `${plural(plan.steps.length, 'step')}, nothing in their way`;
        return { summary, problems };
      },
      { readOnly: true },
    );
  } finally {
    await client.end().catch(() => {});
  }
}
