import type { LogEventType } from '../events/types.js';
import { conversationFromRows, expandToolImages, fitToContext, loadImages, toStoredToolCalls, type ImageLoader, type StoredImage } from './conversation.js';
import type { ChatMessage, ModelProvider, ToolCallRequest, ToolSpec, Usage } from './providers/types.js';
import { ModelError } from './providers/types.js';
import { RunFailure } from './run-failure.js';
import { recordingResults, RunReminders, withPlanAndReminders } from './reminders.js';
import type { MessageRow } from '../store/schema.js';

/** What the loop needs from the tool registry. */
export interface AgentTools {
  /** Specs with wire-safe names, as the model must see them. */
  specs(): ToolSpec[];
  /** Product (dotted) name for a wire name; unknown names come back unchanged. */
  fromWireName(wireName: string): string;
  toWireName(name: string): string;
  execute(
    name: string,
    rawArguments: string,
    signal: AbortSignal,
  ): Promise<{ output: string; success: boolean; durationMs: number; args: unknown; images?: Array<{ mediaType: string; dataBase64: string }> }>;
}

/** Where the loop records what happens; implemented over the event log and the store. */
export interface RunRecorder {
  emit(type: LogEventType, data: Record<string, unknown>): Promise<void>;
  /** High-volume deltas (`content` {text, iteration}, `thinking` {iteration, reasoning}): ordered, but the loop does not wait for each commit. */
  emitDelta(type: 'content' | 'thinking', text: string, iteration: number): void;
  saveMessage(message: { role: 'assistant' | 'tool'; content: string; tool_calls?: string; tool_call_id?: string; attachments?: StoredImage[] }): Promise<void>;
  /** The model's message of a turn, with the run's progress so far. */
  saveTurn(message: { role: 'assistant'; content: string; tool_calls?: string }, iterations: number, usage: Usage): Promise<void>;
}

export interface LoopInput {
  model: ModelProvider;
  tools: AgentTools;
  recorder: RunRecorder;
  systemPrompt: string;
  /** The session's stored messages, the new user message included. */
  history: MessageRow[];
  maxIterations: number;
  signal: AbortSignal;
  /** Progress already made before a restart. */
  resumeFrom?: { iterations: number; usage: Usage };
  /** The session's working memory (§8.3); its plan is re-read into every model request. */
  workingMemory?: WorkingMemoryView;
  /** Without a gate every call runs (tests of the bare loop). */
  gate?: ToolCallGate;
  /** Reads images attached to messages; without it they reach the model as a note. */
  images?: ImageLoader;
  /** Keeps images a tool returned with its result, so later calls and a resumed run send them again. */
  saveToolImage?(image: { mediaType: string; dataBase64: string }, name: string): Promise<StoredImage>;
}

/**
 * Policy and human approval for tool calls (§6). A call is run, refused (the model gets `output`
 * as the tool result), or needs an answer from a human: then the loop asks once and parks the
 * run, which resumes from the stored messages when the answer arrives.
 */
export interface ToolCallGate {
  decide(call: ToolCallRequest): Promise<GateDecision>;
  /** Records the approval request for a call the gate answered `ask` for. */
  requestApproval(call: ToolCallRequest, iteration: number): Promise<void>;
}

export type GateDecision = {
  riskLevel: 'low' | 'medium' | 'high';
  /** False when the call was seen before (asked about before a pause): its tool_call event is not repeated. */
  firstSeen: boolean;
} & ({ action: 'run'; feedback?: string } | { action: 'refuse'; output: string } | { action: 'ask' } | { action: 'wait' });

/** Thrown out of the loop when the run waits for a human; the run is resumed later, not failed. */
export class RunParked extends Error {
  constructor() {
    super('waiting for approval');
    this.name = 'RunParked';
  }
}

/** What the loop needs from the working memory: the current plan as context text, or null when there is none. */
export interface WorkingMemoryView {
  planForContext(): Promise<string | null>;
}

export interface LoopResult {
  content: string;
  iterations: number;
  usage: Usage;
  /**
   * The final answer, not yet saved nor announced (`message_completed`): the caller saves it
   * with the run's end, in one statement, then announces it with `done`.
   */
  finalMessage: { role: 'assistant'; content: string };
}

const parseArgs = (raw: string): unknown => {
  try {
    return JSON.parse(raw || '{}');
  } catch {
    return raw;
  }
};

/**
 * One run: stream the model, relay its reasoning and text, execute its tool calls, feed the
 * results back, until it answers without tools. Every step is persisted before the next one
 * starts, so a restarted server can pick the run up from the stored messages; the final answer
 * is the caller's to persist with the run's end (LoopResult.finalMessage).
 */
export async function runAgentLoop(loopInput: LoopInput): Promise<LoopResult> {
  // Every tool result feeds the reminders, whichever path executes the call.
  const reminders = new RunReminders();
  const input: LoopInput = { ...loopInput, tools: recordingResults(loopInput.tools, reminders) };
  const { model, recorder, signal } = input;
  const conversation = conversationFromRows(input.history, await loadImages(input.history, input.images));
  let iterations = input.resumeFrom?.iterations ?? 0;
  const usage: Usage = { ...(input.resumeFrom?.usage ?? { inputTokens: 0, outputTokens: 0 }) };
  const system: ChatMessage = { role: 'system', content: input.systemPrompt };

  // A restart between a tool call and its result: finish the calls that have no result yet.
  const unanswered = unansweredToolCalls(conversation);
  if (unanswered.length > 0) await executeToolCalls(unanswered, iterations, conversation, input);

  for (;;) {
    if (signal.aborted) throw signal.reason;
    if (iterations >= input.maxIterations) {
      throw new RunFailure('MAX_ITERATIONS', `Stopped after ${input.maxIterations} model calls without a final answer`);
    }
    iterations++;
    const context = fitToContext(system, conversation, model.contextWindow);
    const messages = withPlanAndReminders(context, await input.workingMemory?.planForContext(), reminders.take());
    const turn = await streamTurn(input, messages, iterations, usage);
    if (turn.toolCalls.length === 0) return { content: turn.text, iterations, usage, finalMessage: { role: 'assistant', content: turn.text } };
    await recorder.saveTurn({ role: 'assistant', content: turn.text, tool_calls: JSON.stringify(toStoredToolCalls(turn.toolCalls)) }, iterations, usage);
    conversation.push({ role: 'assistant', content: turn.text, toolCalls: turn.toolCalls });
    if (turn.text) await recorder.emit('message_completed', { content: turn.text, iteration: iterations });
    await executeToolCalls(turn.toolCalls, iterations, conversation, input);
  }
}

async function streamTurn(input: LoopInput, messages: ChatMessage[], iteration: number, usage: Usage) {
  const { model, tools, recorder, signal } = input;
  let text = '';
  const toolCalls: ToolCallRequest[] = [];
  try {
    for await (const batch of model.stream({ messages: expandToolImages(toWire(messages, tools)), tools: tools.specs(), signal })) {
      for (const event of batch) {
        switch (event.type) {
          case 'text':
            text += event.text;
            recorder.emitDelta('content', event.text, iteration);
            break;
          case 'reasoning':
            recorder.emitDelta('thinking', event.text, iteration);
            break;
          case 'tool_call':
            toolCalls.push({ ...event.call, name: tools.fromWireName(event.call.name) });
            break;
          case 'usage':
            usage.inputTokens += event.usage.inputTokens;
            usage.outputTokens += event.usage.outputTokens;
            break;
          case 'retry':
            // Said on the stream so a user sees why nothing arrives, instead of 30 s of silence.
            await recorder.emit('status', { state: 'model_retrying', iteration, provider: event.provider, attempt: event.attempt, delay_ms: event.delayMs, reason: event.reason, ...(event.status ? { http_status: event.status } : {}) });
            break;
          case 'fallback':
            await recorder.emit('status', { state: 'model_fallback', iteration, from: event.from, to: event.to, reason: event.reason });
            break;
          case 'finish':
            break;
        }
      }
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (error instanceof ModelError) throw new RunFailure('MODEL_ERROR', error.message);
    throw error;
  }
  return { text, toolCalls };
}

async function executeToolCalls(calls: ToolCallRequest[], iteration: number, conversation: ChatMessage[], input: LoopInput) {
  const { tools, recorder, signal } = input;
  for (const call of calls) {
    if (signal.aborted) throw signal.reason;
    const decision: GateDecision = input.gate ? await input.gate.decide(call) : { action: 'run', riskLevel: 'low', firstSeen: true };
    if (decision.firstSeen) {
      await recorder.emit('tool_call', { tool: call.name, args: parseArgs(call.arguments), call_id: call.id, iteration, risk_level: decision.riskLevel });
    }
    if (decision.action === 'ask') await input.gate!.requestApproval(call, iteration);
    if (decision.action === 'ask' || decision.action === 'wait') throw new RunParked();
    const result =
      decision.action === 'refuse'
        ? { output: decision.output, success: false, durationMs: 0 }
        : await tools.execute(call.name, call.arguments, signal);
    if (signal.aborted) throw signal.reason;
    if (decision.action === 'run' && decision.feedback) result.output = `[The user approved this call with feedback: ${decision.feedback}]\n${result.output}`;
    const images = 'images' in result ? result.images : undefined;
    const attachments = images && input.saveToolImage ? await Promise.all(images.map((image, index) => input.saveToolImage!(image, `${call.name}-${call.id}-${index + 1}`))) : [];
    await recorder.saveMessage({ role: 'tool', content: result.output, tool_call_id: call.id, ...(attachments.length > 0 ? { attachments } : {}) });
    conversation.push({ role: 'tool', toolCallId: call.id, name: call.name, content: result.output, ...(images?.length ? { images } : {}) });
    await recorder.emit('tool_result', {
      tool: call.name,
      result: result.output,
      success: result.success,
      call_id: call.id,
      duration_ms: result.durationMs,
    });
  }
}

function unansweredToolCalls(conversation: ChatMessage[]): ToolCallRequest[] {
  const last = [...conversation].reverse().find((message) => message.role === 'assistant');
  if (!last || last.role !== 'assistant' || !last.toolCalls?.length) return [];
  const answered = new Set(conversation.filter((message) => message.role === 'tool').map((message) => (message as { toolCallId: string }).toolCallId));
  return last.toolCalls.filter((call) => !answered.has(call.id));
}

/** Tool names inside the conversation are dotted; the wire needs the model-safe form. */
function toWire(messages: ChatMessage[], tools: AgentTools): ChatMessage[] {
  return messages.map((message) => {
    if (message.role === 'assistant' && message.toolCalls) {
      return { ...message, toolCalls: message.toolCalls.map((call) => ({ ...call, name: tools.toWireName(call.name) })) };
    }
    if (message.role === 'tool') return { ...message, name: tools.toWireName(message.name) };
    return message;
  });
}
