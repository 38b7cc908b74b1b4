import type { AgentTools } from './loop.js';
import type { ChatMessage } from './providers/types.js';

/** Tools whose results are worth saving as findings before they scroll out of the context. */
const WEB_ACTIONS = new Set(['web_fetch', 'web_search']);
export const WEB_ACTIONS_PER_REMINDER = 2;
export const IDENTICAL_FAILURES_PER_REMINDER = 3;

export const SAVE_FINDINGS_REMINDER =
  `Reminder: you have made ${WEB_ACTIONS_PER_REMINDER} web actions since you last saved findings. ` +
  'Record what you learned with findings_add (include the source URLs) before you go on.';

export const changeApproachReminder = (tool: string): string =>
  `The tool call ${tool} has failed ${IDENTICAL_FAILURES_PER_REMINDER} times with the same arguments. ` +
  'Do not repeat it: change your approach (other arguments, another tool, or tell the user what is blocking you).';

/**
 * Nudges for the agent derived from its tool results (SPEC §8.3): save findings after every two
 * web actions, change approach after three identical failures. Each reminder is given once, in
 * the next model request; none is stored in the conversation.
 */
export class RunReminders {
  private webActionsSinceSave = 0;
  /** Failure count per tool call (name + canonical arguments); a success of the same call clears it. */
  private readonly failures = new Map<string, number>();
  private readonly due = new Set<string>();

  record(tool: string, rawArguments: string, success: boolean): void {
    if (tool === 'findings_add' && success) {
      this.webActionsSinceSave = 0;
      this.due.delete(SAVE_FINDINGS_REMINDER);
    }
    if (WEB_ACTIONS.has(tool) && ++this.webActionsSinceSave >= WEB_ACTIONS_PER_REMINDER) {
      this.webActionsSinceSave = 0;
      this.due.add(SAVE_FINDINGS_REMINDER);
    }

    const call = `${tool}\u0000${canonicalArguments(rawArguments)}`;
    if (success) {
      this.failures.delete(call);
      return;
    }
    const count = (this.failures.get(call) ?? 0) + 1;
    if (count < IDENTICAL_FAILURES_PER_REMINDER) {
      this.failures.set(call, count);
      return;
    }
    this.failures.delete(call);
    this.due.add(changeApproachReminder(tool));
  }

  /** The reminders due now; taking them clears them. */
  take(): string[] {
    const due = [...this.due];
    this.due.clear();
    return due;
  }
}

/** The same tools, with every result also recorded into `reminders`, whichever path runs the call. */
export function recordingResults(tools: AgentTools, reminders: RunReminders): AgentTools {
  return {
    ...tools,
    execute: async (name, rawArguments, signal) => {
      const result = await tools.execute(name, rawArguments, signal);
      reminders.record(name, rawArguments, result.success);
      return result;
    },
  };
}

/**
 * The messages of the next model request: the current plan right after the profile prompt, so
 * long tasks stay on course, and any due reminders last, where the model looks next.
 */
export function withPlanAndReminders(messages: ChatMessage[], plan: string | null | undefined, reminders: string[]): ChatMessage[] {
  const [first, ...rest] = messages;
  const head: ChatMessage[] = first ? [first] : [];
  if (plan) head.push({ role: 'system', content: plan });
  const tail: ChatMessage[] = reminders.map((content) => ({ role: 'system', content }));
  return [...head, ...rest, ...tail];
}

/** Same call, same key: key order and whitespace in the model's JSON do not make calls different. */
function canonicalArguments(raw: string): string {
  try {
    return JSON.stringify(sortKeys(JSON.parse(raw.trim() === '' ? '{}' : raw)));
  } catch {
    return raw.trim();
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}
