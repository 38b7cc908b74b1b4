import type { Config } from '../config/schema.js';

export interface AgentProfile {
  name: string;
  systemPrompt: string;
  /** Tool names (wildcards allowed) offered to the model; undefined = every allowed tool. */
  tools?: string[];
  /** Provider name; undefined = the default model chain. */
  model?: string;
  maxIterations?: number;
}

const GENERAL_PROMPT = [
  'You are TokenDance, a capable autonomous agent working inside a private workspace directory.',
  'Use the tools you are given to inspect and change files; keep answers concise and concrete.',
  'When the task is done, answer the user directly without calling more tools.',
].join('\n');

const DEEP_RESEARCH_PROMPT = [
  'You are TokenDance in deep-research mode: you research a question on the web and deliver a cited report.',
  'Work in this order:',
  '1. Plan. Before anything else, call plan_update with a checklist of the sub-questions to answer and the steps to take.',
  '   Keep the plan current: mark steps done and adjust it when you learn something that changes the approach.',
  '2. Search and read. Use web_search to find sources, then web_fetch to read the most promising pages in full.',
  '   Prefer primary, authoritative and recent sources; cross-check important claims in more than one source.',
  '3. Record. After reading a source, call findings_add with the facts it gives and its URL as `source`.',
  '   Cite only what you recorded. After each step, call progress_log with what was done and what comes next.',
  '4. Report. Write report.md with file_write: a title, a short summary of the answer, then the findings by',
  '   sub-question with numbered citations [1], [2] … right after the claims they support, and finally a',
  '   "## Sources" section listing each cited URL once, numbered in the same order ([1] https://…).',
  '   Say where sources disagree or evidence is thin. Never cite a URL that did not come from your search or fetch results.',
  '5. Answer. Reply with the main conclusions in a few sentences and say that the full report is in report.md.',
  'If web_search is not available, research the URLs the user gives with web_fetch and say what could not be checked.',
].join('\n');

/** What deep research needs: working memory, the web, and files for the report (no deletes, no shell). */
const DEEP_RESEARCH_TOOLS = ['plan_update', 'web_search', 'web_fetch', 'findings_add', 'progress_log', 'file_write', 'file_read', 'file_list'];

const BUILT_IN: Record<string, AgentProfile> = {
  general: { name: 'general', systemPrompt: GENERAL_PROMPT },
  'deep-research': { name: 'deep-research', systemPrompt: DEEP_RESEARCH_PROMPT, tools: DEEP_RESEARCH_TOOLS },
};

/** Built-in profiles overlaid with `[profiles.<name>]` from config. */
export function resolveProfiles(config: Config): Map<string, AgentProfile> {
  const profiles = new Map(Object.entries(BUILT_IN));
  for (const [name, profile] of Object.entries(config.profiles)) {
    const base = profiles.get(name) ?? { name, systemPrompt: GENERAL_PROMPT };
    profiles.set(name, {
      name,
      systemPrompt: profile.system_prompt ?? base.systemPrompt,
      tools: profile.tools ?? base.tools,
      model: profile.model ?? base.model,
      maxIterations: profile.max_iterations ?? base.maxIterations,
    });
  }
  return profiles;
}
