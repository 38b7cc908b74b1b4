import type { MessageRow } from '../store/schema.js';
import type { ChatMessage, ToolCallRequest } from './providers/types.js';

/** Stored tool calls use the OpenAI shape with the product's dotted tool names. */
export interface StoredToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export const toStoredToolCalls = (calls: ToolCallRequest[]): StoredToolCall[] =>
  calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));

/** Rebuilds the model conversation from stored messages (tool names stay dotted here). */
export function conversationFromRows(rows: MessageRow[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const row of rows) {
    if (row.role === 'user') messages.push({ role: 'user', content: row.content });
    else if (row.role === 'assistant') {
      const calls = row.tool_calls ? (JSON.parse(row.tool_calls) as StoredToolCall[]) : [];
      messages.push({
        role: 'assistant',
        content: row.content,
        ...(calls.length ? { toolCalls: calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })) } : {}),
      });
    } else if (row.role === 'tool') {
      messages.push({ role: 'tool', toolCallId: row.tool_call_id ?? '', name: toolNameOf(rows, row.tool_call_id), content: row.content });
    }
  }
  return messages;
}

function toolNameOf(rows: MessageRow[], callId: string | null): string {
  for (const row of rows) {
    if (row.role !== 'assistant' || !row.tool_calls) continue;
    const call = (JSON.parse(row.tool_calls) as StoredToolCall[]).find((candidate) => candidate.id === callId);
    if (call) return call.function.name;
  }
  return 'unknown';
}

const estimateTokens = (message: ChatMessage): number => {
  const content = typeof message.content === 'string' ? message.content : message.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
  const calls = message.role === 'assistant' ? (message.toolCalls ?? []).reduce((sum, call) => sum + call.arguments.length, 0) : 0;
  return Math.ceil((content.length + calls) / 4) + 4;
};

/**
 * Keeps the conversation inside the model's context window: when it would use more than 75%,
 * the oldest turns are dropped (never splitting a tool call from its result) and replaced by a
 * note, so long sessions keep working instead of failing at the provider.
 */
export function fitToContext(system: ChatMessage, conversation: ChatMessage[], contextWindow: number): ChatMessage[] {
  const budget = Math.floor(contextWindow * 0.75) - estimateTokens(system);
  let total = conversation.reduce((sum, message) => sum + estimateTokens(message), 0);
  let start = 0;
  while (total > budget && start < conversation.length - 1) {
    total -= estimateTokens(conversation[start]!);
    start++;
    // A tool result must follow its assistant call: skip forward to the next user turn.
    while (start < conversation.length - 1 && conversation[start]!.role !== 'user') {
      total -= estimateTokens(conversation[start]!);
      start++;
    }
  }
  if (start === 0) return [system, ...conversation];
  const note: ChatMessage = { role: 'system', content: `[${start} earlier messages were omitted to fit the context window.]` };
  return [system, note, ...conversation.slice(start)];
}
