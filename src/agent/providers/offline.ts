import { setImmediate as nextTick } from 'node:timers/promises';
import { WEB_SEARCH_UNAVAILABLE_DESCRIPTION } from '../../tools/web-search.js';
import { throwIfAborted } from './abort.js';
import type { ChatMessage, ModelProvider, ModelRequest, ModelStreamEvent, ToolSpec } from './types.js';

export const OFFLINE_PROVIDER_NAME = 'offline';
export const OFFLINE_MODEL = 'offline-demo';

/** `write file notes.txt: hello` (any case, optional "a", optional quotes around the name). */
const WRITE_FILE_PATTERN = /\bwrite\s+(?:a\s+)?file\s+["'`]?([^\s:"'`]+)["'`]?\s*:\s*([\s\S]*)$/i;
const FILE_WRITE_TOOL = 'file_write';
/** `delete file notes.txt` / `delete notes.txt`: shows the approval flow (file_delete asks a human). */
const DELETE_FILE_PATTERN = /\bdelete\s+(?:the\s+)?(?:file\s+)?["'`]?([^\s"'`]+)["'`]?\s*$/i;
const FILE_DELETE_TOOL = 'file_delete';
/** `search <query>`: uses web_search when a backend is configured, else explains how to add one. */
const SEARCH_PATTERN = /^\s*(?:please\s+)?search(?:\s+(?:the\s+web\s+)?for)?\s+(.+)$/i;
const WEB_SEARCH_TOOL = 'web_search';

/**
 * The built-in demo model used when no provider is configured: deterministic and network-free,
 * so a fresh install (and the test suite) can exercise the whole agent loop, tool calls included.
 */
export class OfflineProvider implements ModelProvider {
  readonly name: string;
  readonly model: string;
  readonly supportsVision = false;
  readonly contextWindow: number;

  constructor(options: { name?: string; model?: string; contextWindow?: number } = {}) {
    this.name = options.name ?? OFFLINE_PROVIDER_NAME;
    this.model = options.model ?? OFFLINE_MODEL;
    this.contextWindow = options.contextWindow ?? 128_000;
  }

  async *stream(request: ModelRequest): AsyncGenerator<ModelStreamEvent[]> {
    const { messages, signal } = request;
    throwIfAborted(signal);
    const lastUser = messages.findLastIndex((message) => message.role === 'user');
    const userText = lastUser >= 0 ? textOf(messages[lastUser] as ChatMessage) : '';
    const toolResults = messages
      .slice(lastUser + 1)
      .filter((message): message is Extract<ChatMessage, { role: 'tool' }> => message.role === 'tool');
    const inputTokens = estimateTokens(messages.map(textOf).join(''));

    yield [{ type: 'reasoning', text: 'Offline demo model: no model provider is configured, so I answer locally with canned logic.' }];

    const writeRequest = WRITE_FILE_PATTERN.exec(userText);
    const offered = (name: string) => request.tools.some((tool: ToolSpec) => tool.name === name);
    const canWrite = offered(FILE_WRITE_TOOL);
    const call = toolResults.length === 0 ? this.intendedCall(userText, offered) : undefined;
    if (call) {
      const turnNumber = messages.filter((message) => message.role === 'assistant').length + 1;
      yield [
        { type: 'tool_call', call: { id: `call_offline_${turnNumber}`, ...call } },
        { type: 'usage', usage: { inputTokens, outputTokens: estimateTokens(call.arguments) } },
        { type: 'finish', reason: 'tool_calls' },
      ];
      return;
    }

    const searchRequest = SEARCH_PATTERN.exec(userText);
    const reply =
      toolResults.length === 0 && searchRequest && !offered(WEB_SEARCH_TOOL)
        ? `I would search the web for "${clip(searchRequest[1]!.trim(), 120)}", but I can't yet. ${WEB_SEARCH_UNAVAILABLE_DESCRIPTION} (Offline demo model: no model provider is configured either.)`
        : composeReply(userText, toolResults, writeRequest?.[1], canWrite);
    for (const word of reply.match(/\S+\s*/g) ?? []) {
      // Yield to the event loop between deltas so the stream behaves (and can be cancelled) like a real one.
      await nextTick();
      throwIfAborted(signal);
      yield [{ type: 'text', text: word }];
    }
    yield [
      { type: 'usage', usage: { inputTokens, outputTokens: estimateTokens(reply) } },
      { type: 'finish', reason: 'stop' },
    ];
  }

  /** The demo's intents: write a file, delete a file (asks for approval), search the web. */
  private intendedCall(userText: string, offered: (name: string) => boolean): { name: string; arguments: string } | undefined {
    const write = WRITE_FILE_PATTERN.exec(userText);
    if (write && offered(FILE_WRITE_TOOL)) return { name: FILE_WRITE_TOOL, arguments: JSON.stringify({ path: write[1], content: (write[2] ?? '').trim() }) };
    const remove = DELETE_FILE_PATTERN.exec(userText);
    if (remove && offered(FILE_DELETE_TOOL)) return { name: FILE_DELETE_TOOL, arguments: JSON.stringify({ path: remove[1] }) };
    const search = SEARCH_PATTERN.exec(userText);
    if (search && offered(WEB_SEARCH_TOOL)) return { name: WEB_SEARCH_TOOL, arguments: JSON.stringify({ query: search[1]!.trim() }) };
    return undefined;
  }
}

function composeReply(
  userText: string,
  toolResults: Array<Extract<ChatMessage, { role: 'tool' }>>,
  pathToWrite: string | undefined,
  canWrite: boolean,
): string {
  if (toolResults.length > 0) {
    // Neutral wording: a result may be a failure or a rejection, which must not read as "done".
    const summaries = toolResults.map((result) => `Tool ${result.name} replied: ${asSentence(clip(result.content, 600))}`);
    const wrote = toolResults.some((result) => result.name === FILE_WRITE_TOOL && /^(?:Created|Overwrote) /.test(result.content));
    const next = pathToWrite && wrote ? ` Next, try "delete file ${pathToWrite}": deleting asks for your approval before it runs.` : '';
    return `${summaries.join(' ')}${next} (Offline demo model: no model provider is configured.)`;
  }
  if (pathToWrite && !canWrite) {
    return `I would write that file, but the ${FILE_WRITE_TOOL} tool is not available in this session. (Offline demo model; no provider is configured.)`;
  }
  const echo = userText.trim() === '' ? '' : ` You said: "${clip(userText.trim(), 120)}".`;
  return (
    `Hello! I am the offline demo model, because no model provider is configured.${echo} ` +
    'Set SPARK_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY (or add [providers] to the config) to talk to a real model. ' +
    'Try "write file notes.txt: hello" to see a tool call, "delete file notes.txt" to see an approval request, and "search <topic>" for web search.'
  );
}

function textOf(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  return message.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

/** A rough chars/4 estimate: good enough for demo usage numbers. */
function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function asSentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?…]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
