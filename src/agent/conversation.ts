import type { MessageRow } from '../store/schema.js';
import type { ChatMessage, ContentPart, ToolCallRequest } from './providers/types.js';

/** Stored tool calls use the OpenAI shape with the product's dotted tool names. */
export interface StoredToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export const toStoredToolCalls = (calls: ToolCallRequest[]): StoredToolCall[] =>
  calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));

/** An image attached to a user message, kept with it (`messages.attachments`) so every later model call can send it again. */
export interface StoredImage {
  type: 'image';
  file_id: string;
  media_type: string;
  name: string;
}

/** Reads the bytes of a stored image; implemented at the edge (uploads), so the loop never touches files. */
export interface ImageLoader {
  loadImage(fileId: string): Promise<{ mediaType: string; dataBase64: string } | null>;
}

/** Also keeps new images (a tool's), owned by the run's user, and returns their reference. */
export interface ImageStore extends ImageLoader {
  saveImage(userId: string, image: { mediaType: string; dataBase64: string }, name: string): Promise<StoredImage>;
}

export type LoadedImages = ReadonlyMap<string, { mediaType: string; dataBase64: string } | null>;

/** The images stored with a message; an unreadable value counts as none rather than failing the run. */
export function storedImagesOf(row: Pick<MessageRow, 'attachments'>): StoredImage[] {
  if (!row.attachments) return [];
  try {
    const parsed: unknown = JSON.parse(row.attachments);
    return Array.isArray(parsed) ? parsed.filter((item): item is StoredImage => item?.type === 'image' && typeof item.file_id === 'string') : [];
  } catch {
    return [];
  }
}

/** Loads every image the conversation references, once per run. */
export async function loadImages(rows: MessageRow[], loader: ImageLoader | undefined): Promise<LoadedImages> {
  const images = new Map<string, { mediaType: string; dataBase64: string } | null>();
  if (!loader) return images;
  for (const row of rows) {
    for (const image of storedImagesOf(row)) {
      if (!images.has(image.file_id)) images.set(image.file_id, await loader.loadImage(image.file_id));
    }
  }
  return images;
}

/**
 * Rebuilds the model conversation from stored messages (tool names stay dotted here). A user
 * message with images becomes image parts followed by its text (the order vision models read best).
 */
export function conversationFromRows(rows: MessageRow[], images: LoadedImages = new Map()): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const row of rows) {
    if (row.role === 'user') messages.push({ role: 'user', content: userContent(row, images) });
    else if (row.role === 'assistant') {
      const calls = row.tool_calls ? (JSON.parse(row.tool_calls) as StoredToolCall[]) : [];
      messages.push({
        role: 'assistant',
        content: row.content,
        ...(calls.length ? { toolCalls: calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })) } : {}),
      });
    } else if (row.role === 'tool') {
      const toolImages = storedImagesOf(row).flatMap((image) => {
        const loaded = images.get(image.file_id);
        return loaded ? [loaded] : [];
      });
      messages.push({
        role: 'tool',
        toolCallId: row.tool_call_id ?? '',
        name: toolNameOf(rows, row.tool_call_id),
        content: row.content,
        ...(toolImages.length > 0 ? { images: toolImages } : {}),
      });
    }
  }
  return messages;
}

/**
 * Tool results are text on every wire format, so images a tool returned follow the turn's tool
 * results as one user message with image parts (providers without vision get a note instead).
 */
export function expandToolImages(messages: ChatMessage[]): ChatMessage[] {
  if (!messages.some((message) => message.role === 'tool' && message.images?.length)) return messages;
  const expanded: ChatMessage[] = [];
  let pending: ContentPart[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    expanded.push({ role: 'user', content: pending });
    pending = [];
  };
  for (const message of messages) {
    if (message.role !== 'tool') flush();
    if (message.role === 'tool' && message.images?.length) {
      const { images, ...text } = message;
      expanded.push(text);
      pending.push({ type: 'text', text: `Images returned by tool ${message.name} (call ${message.toolCallId}):` });
      for (const image of images) pending.push({ type: 'image', mediaType: image.mediaType, dataBase64: image.dataBase64 });
    } else expanded.push(message);
  }
  flush();
  return expanded;
}

function userContent(row: MessageRow, images: LoadedImages): string | ContentPart[] {
  const attached = storedImagesOf(row);
  if (attached.length === 0) return row.content;
  const parts: ContentPart[] = attached.map((image) => {
    const loaded = images.get(image.file_id);
    return loaded
      ? { type: 'image', mediaType: loaded.mediaType, dataBase64: loaded.dataBase64 }
      : { type: 'text', text: `[image ${image.name} is no longer available]` };
  });
  parts.push({ type: 'text', text: row.content });
  return parts;
}

function toolNameOf(rows: MessageRow[], callId: string | null): string {
  for (const row of rows) {
    if (row.role !== 'assistant' || !row.tool_calls) continue;
    const call = (JSON.parse(row.tool_calls) as StoredToolCall[]).find((candidate) => candidate.id === callId);
    if (call) return call.function.name;
  }
  return 'unknown';
}

/** Providers bill an image by its pixels (Anthropic: about 1,600 tokens at most); the upper bound keeps packing safe. */
const IMAGE_TOKENS = 1600;

const estimateTokens = (message: ChatMessage): number => {
  const parts = typeof message.content === 'string' ? [{ type: 'text' as const, text: message.content }] : message.content;
  const text = parts.reduce((sum, part) => sum + (part.type === 'text' ? part.text.length : 0), 0);
  const images = parts.filter((part) => part.type === 'image').length;
  const calls = message.role === 'assistant' ? (message.toolCalls ?? []).reduce((sum, call) => sum + call.arguments.length, 0) : 0;
  return Math.ceil((text + calls) / 4) + images * IMAGE_TOKENS + 4;
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
