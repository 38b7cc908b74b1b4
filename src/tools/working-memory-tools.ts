import { z } from 'zod';
import { WorkingMemory, WorkingMemoryFullError, WORKING_MEMORY_FILES, type WorkingMemoryChange, type WorkingMemoryKey } from '../memory/working-memory.js';
import { ToolInputError } from './errors.js';
import { toToolError } from './fs-errors.js';
import type { Tool, ToolContext } from './types.js';

/** The plan is re-sent with every model request, so it stays well below the file limit. */
const PLAN_MAX_CHARS = 20_000;
const ENTRY_MAX_CHARS = 20_000;
const MAX_SOURCES = 20;

const PLAN_STATUSES = ['planning', 'in_progress', 'blocked', 'completed'] as const;

const planUpdateSchema = z.object({
  content: z
    .string()
    .trim()
    .min(1)
    .max(PLAN_MAX_CHARS)
    .describe('The whole plan in markdown (it replaces the previous one), e.g. a checklist of steps with their state.'),
  status: z.enum(PLAN_STATUSES).optional().describe('Overall state of the task; unchanged when omitted.'),
});

// No whitespace: `new URL` silently drops newlines and tabs, which would let a "source" smuggle lines into the file.
const sourceUrl = z
  .url({ protocol: /^https?$/ })
  .max(2_000)
  .regex(/^\S+$/, 'must not contain whitespace');

const findingsAddSchema = z.object({
  content: z.string().trim().min(1).max(ENTRY_MAX_CHARS).describe('The finding, in markdown: facts, figures, quotes worth keeping.'),
  source: z
    .union([sourceUrl, z.array(sourceUrl).min(1).max(MAX_SOURCES)])
    .optional()
    .describe('The http(s) URL, or URLs, the finding comes from.'),
});

const progressLogSchema = z.object({
  content: z.string().trim().min(1).max(ENTRY_MAX_CHARS).describe('What was done, what came out of it, what is next.'),
});

export type PlanUpdateArgs = z.infer<typeof planUpdateSchema>;
export type FindingsAddArgs = z.infer<typeof findingsAddSchema>;
export type ProgressLogArgs = z.infer<typeof progressLogSchema>;

/** Runs one change and reports it; fs problems become messages without host paths. */
async function applyChange(ctx: ToolContext, key: WorkingMemoryKey, work: (memory: WorkingMemory) => Promise<WorkingMemoryChange>) {
  const memory = new WorkingMemory(ctx.workspaceDir, ctx.sessionId);
  let change: WorkingMemoryChange;
  try {
    change = await work(memory);
  } catch (error) {
    if (error instanceof WorkingMemoryFullError) throw new ToolInputError(error.message);
    throw toToolError(error, WORKING_MEMORY_FILES[key].file);
  }
  // Outside the try: a failing callback is the caller's error, not a file-system problem.
  await ctx.onWorkingMemoryChanged?.(change);
  return change;
}

export function createPlanUpdateTool(): Tool<PlanUpdateArgs> {
  return {
    name: 'plan_update',
    description:
      'Rewrite the task plan (task_plan.md in the workspace). The current plan is shown to you at every step, ' +
      'so keep it up to date: plan first for multi-step tasks, then mark steps done as you go.',
    inputSchema: planUpdateSchema,
    defaultPolicy: 'allow',
    risk: () => 'low',
    describe: (args) => ({ operation: 'plan_update', description: `Rewrite task_plan.md (${args.content.length} characters)` }),
    execute: async (args, ctx) => {
      const change = await applyChange(ctx, 'task_plan', (memory) => memory.rewrite('task_plan', `${args.content}\n`, args.status));
      return { success: true, output: `Updated task_plan.md (version ${change.version}, status ${change.status}).` };
    },
  };
}

export function createFindingsAddTool(): Tool<FindingsAddArgs> {
  return {
    name: 'findings_add',
    description:
      'Record a finding in findings.md (appended with a timestamp), with the URL(s) it comes from. ' +
      'Save findings as you research so they are not lost when the conversation grows long.',
    inputSchema: findingsAddSchema,
    defaultPolicy: 'allow',
    risk: () => 'low',
    describe: (args) => ({ operation: 'findings_add', description: `Append a finding (${args.content.length} characters) to findings.md` }),
    execute: async (args, ctx) => {
      const sources = args.source === undefined ? [] : [args.source].flat();
      const entry = sources.length ? `${args.content}\n\nSources:\n${sources.map((url) => `- ${url}`).join('\n')}` : args.content;
      const change = await applyChange(ctx, 'findings', (memory) => memory.append('findings', entry));
      const cited = sources.length === 1 ? ', 1 source' : sources.length ? `, ${sources.length} sources` : '';
      return { success: true, output: `Added a finding to findings.md (version ${change.version}${cited}).` };
    },
  };
}

export function createProgressLogTool(): Tool<ProgressLogArgs> {
  return {
    name: 'progress_log',
    description: 'Append a timestamped entry to the progress log (progress.md): what was done and what comes next.',
    inputSchema: progressLogSchema,
    defaultPolicy: 'allow',
    risk: () => 'low',
    describe: (args) => ({ operation: 'progress_log', description: `Append an entry (${args.content.length} characters) to progress.md` }),
    execute: async (args, ctx) => {
      const change = await applyChange(ctx, 'progress', (memory) => memory.append('progress', args.content));
      return { success: true, output: `Logged progress in progress.md (version ${change.version}).` };
    },
  };
}

export function createWorkingMemoryTools(): Tool[] {
  return [createPlanUpdateTool(), createFindingsAddTool(), createProgressLogTool()] as Tool[];
}
