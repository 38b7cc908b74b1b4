import type { CallToolResult, CompatibilityCallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import type { ToolImage, ToolResult } from '../tools/types.js';
import { sniffImageType } from '../uploads/image-type.js';

/** How much of an unknown content block is shown, as JSON. */
const UNKNOWN_BLOCK_MAX_CHARS = 500;
/** Images passed on to the model per tool result, and their size limit (Anthropic's per-image cap). */
const MAX_IMAGES = 4;
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/**
 * An MCP tool result as the agent's tool result. Text and text resources pass through; images
 * in a format every vision provider reads (PNG, JPEG, GIF, WebP) go to the model as images, with
 * a note in the text; other binary content (audio, blobs) becomes a note. The registry caps the
 * text like any tool's.
 */
export function mapCallToolResult(result: CallToolResult | CompatibilityCallToolResult): ToolResult {
  // Servers on the 2024-10-07 protocol answer with a bare `toolResult`.
  if (!('content' in result)) return { output: JSON.stringify((result as CompatibilityCallToolResult).toolResult ?? null, null, 2), success: true };
  return mapContent(result as CallToolResult);
}

function mapContent(result: CallToolResult): ToolResult {
  const images: ToolImage[] = [];
  const parts = (result.content ?? []).map((block) => (block.type === 'image' ? describeImage(block, images) : describeBlock(block)));
  // Tools with structured output should repeat it as text; show it only when they did not.
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent, null, 2));
  const output = parts.length > 0 ? parts.join('\n') : 'The tool returned no content.';
  return { output, success: result.isError !== true, ...(images.length > 0 ? { images } : {}) };
}

/** Keeps an image for the model when its bytes are a supported format within the limits; says so either way. */
function describeImage(block: Extract<ContentBlock, { type: 'image' }>, images: ToolImage[]): string {
  const bytes = Buffer.from(block.data, 'base64');
  const label = `${block.mimeType}, ${formatBytes(bytes.length)}`;
  const mediaType = sniffImageType(bytes);
  if (!mediaType) return `[image: ${label}; not shown: not a PNG, JPEG, GIF or WebP image]`;
  if (bytes.length > MAX_IMAGE_BYTES) return `[image: ${label}; not shown: larger than ${formatBytes(MAX_IMAGE_BYTES)}]`;
  if (images.length >= MAX_IMAGES) return `[image: ${label}; not shown: only the first ${MAX_IMAGES} images of a result are passed on]`;
  images.push({ mediaType, dataBase64: bytes.toString('base64') });
  return `[image ${images.length}: ${label}; attached for the model after the tool results]`;
}

function describeBlock(block: ContentBlock): string {
  switch (block.type) {
    case 'text':
      return block.text;
    case 'audio':
      return `[audio: ${block.mimeType}, ${formatBytes(base64Bytes(block.data))}; not played: tool results reach the model as text only]`;
    case 'resource': {
      const { resource } = block;
      const label = `${resource.uri}${resource.mimeType ? ` (${resource.mimeType})` : ''}`;
      if ('text' in resource && typeof resource.text === 'string') return `[resource ${label}]\n${resource.text}`;
      const size = 'blob' in resource && typeof resource.blob === 'string' ? `, ${formatBytes(base64Bytes(resource.blob))}` : '';
      return `[resource ${label}${size} of binary data; not shown]`;
    }
    case 'resource_link':
      return `[resource link: ${block.name} <${block.uri}>${block.mimeType ? ` (${block.mimeType})` : ''}${block.description ? `: ${block.description}` : ''}]`;
    default: {
      const json = JSON.stringify(block);
      const shown = json.length > UNKNOWN_BLOCK_MAX_CHARS ? `${json.slice(0, UNKNOWN_BLOCK_MAX_CHARS)}…` : json;
      return `[${String((block as { type?: unknown }).type)} content: ${shown}]`;
    }
  }
}

function base64Bytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
