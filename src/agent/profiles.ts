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
  'You are TokenDance in deep-research mode.',
  'First write a plan. Then search and fetch sources, record findings with their sources,',
  'and finish by writing a cited report file (report.md) in the workspace.',
].join('\n');

const BUILT_IN: Record<string, AgentProfile> = {
  general: { name: 'general', systemPrompt: GENERAL_PROMPT },
  'deep-research': { name: 'deep-research', systemPrompt: DEEP_RESEARCH_PROMPT },
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
