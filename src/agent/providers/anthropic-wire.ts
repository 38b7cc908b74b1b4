import type { ChatMessage, ContentPart, ModelRequest, ToolSpec } from './types.js';

/** Request-side shapes of the Anthropic Messages API (only what we send). */
type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string };

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | AnthropicBlock[];
}

export interface AnthropicTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  stream: true;
  system?: string;
  messages: AnthropicMessage[];
  tools?: AnthropicTool[];
}

export const DEFAULT_MAX_TOKENS = 4096;

export function toAnthropicRequest(model: string, request: ModelRequest): AnthropicRequest {
  const system = request.messages
    .filter((message): message is Extract<ChatMessage, { role: 'system' }> => message.role === 'system')
    .map((message) => message.content)
    .join('\n\n');
  const body: AnthropicRequest = {
    model,
    max_tokens: request.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
    stream: true,
    messages: toAnthropicMessages(request.messages),
  };
  if (system !== '') body.system = system;
  if (request.tools.length > 0) body.tools = request.tools.map(toAnthropicTool);
  return body;
}

export function toAnthropicTool(tool: ToolSpec): AnthropicTool {
  return { name: tool.name, description: tool.description, input_schema: tool.parameters };
}

/**
 * Anthropic wants strictly alternating turns and tool results inside a user turn, so consecutive
 * same-role messages (several tool results, or tool results followed by user text) are merged
 * into one message, tool_result blocks first as the API requires.
 */
export function toAnthropicMessages(messages: ChatMessage[]): AnthropicMessage[] {
  const result: Array<{ role: 'user' | 'assistant'; content: AnthropicBlock[] }> = [];
  for (const message of messages) {
    const converted = toAnthropicTurn(message);
    if (!converted || converted.content.length === 0) continue;
    const previous = result[result.length - 1];
    if (previous && previous.role === converted.role) previous.content.push(...converted.content);
    else result.push(converted);
  }
  // A lone text block is sent in the compact string form, which is what the API docs show.
  return result.map((message) => {
    const only = message.content.length === 1 ? message.content[0] : undefined;
    return only?.type === 'text' ? { role: message.role, content: only.text } : message;
  });
}

function toAnthropicTurn(message: ChatMessage): { role: 'user' | 'assistant'; content: AnthropicBlock[] } | undefined {
  switch (message.role) {
    case 'system':
      return undefined;
    case 'user':
      if (typeof message.content === 'string') return { role: 'user', content: textBlocks(message.content) };
      return { role: 'user', content: message.content.flatMap(toAnthropicPart) };
    case 'assistant': {
      // Thinking is not replayed: without its signature the API would reject it.
      const content: AnthropicBlock[] = textBlocks(message.content);
      for (const call of message.toolCalls ?? []) {
        content.push({ type: 'tool_use', id: call.id, name: call.name, input: parseToolInput(call.arguments) });
      }
      return { role: 'assistant', content };
    }
    case 'tool':
      return { role: 'user', content: [{ type: 'tool_result', tool_use_id: message.toolCallId, content: message.content }] };
  }
}

/** The API rejects empty text blocks. */
function textBlocks(text: string): AnthropicBlock[] {
  return text.trim() === '' ? [] : [{ type: 'text', text }];
}

function toAnthropicPart(part: ContentPart): AnthropicBlock[] {
  if (part.type === 'text') return textBlocks(part.text);
  return [{ type: 'image', source: { type: 'base64', media_type: part.mediaType, data: part.dataBase64 } }];
}

/** tool_use.input must be an object; a model that produced invalid JSON gets it back wrapped, not dropped. */
function parseToolInput(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Fall through.
  }
  return { _raw_arguments: text };
}

/** Response-side: one streamed event's data, every field optional because we parse defensively. */
export interface AnthropicStreamEvent {
  type?: string;
  index?: number;
  message?: { usage?: AnthropicUsage };
  content_block?: { type?: string; id?: string; name?: string; text?: string; thinking?: string };
  delta?: {
    type?: string;
    text?: string;
    thinking?: string;
    partial_json?: string;
    stop_reason?: string | null;
  };
  usage?: AnthropicUsage;
  error?: { type?: string; message?: string };
}

export interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}
