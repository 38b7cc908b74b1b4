import type { CallToolResult, CompatibilityCallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import type { ToolResult } from '../tools/types.js';

/** How much of an unknown content block is shown, as JSON. */
const UNKNOWN_BLOCK_MAX_CHARS = 500;

/**
 * An MCP tool result as the agent's text tool result. Text and text resources pass through;
 * binary content (images, audio, blobs) becomes a note, because tool results reach the model as
 * text only (see the README's MCP section). The registry caps the whole output like any tool's.
 */
export function mapCallToolResult(result: CallToolResult | CompatibilityCallToolResult): ToolResult {
  // Servers on the 2024-10-07 protocol answer with a bare `toolResult`.
  if (!('content' in result)) return { output: JSON.stringify((result as CompatibilityCallToolResult).toolResult ?? null, null, 2), success: true };
  return mapContent(result as CallToolResult);
}

function mapContent(result: CallToolResult): ToolResult {
  const parts = (result.content ?? []).map(describeBlock);
  // Tools with structured output should repeat it as text; show it only when they did not.
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent, null, 2));
  const output = parts.length > 0 ? parts.join('\n') : 'The tool returned no content.';
  return { output, success: result.isError !== true };
}

function describeBlock(block: ContentBlock): string {
  switch (block.type) {
    case 'text':
      return block.text;
    case 'image':
      return `[image: ${block.mimeType}, ${formatBytes(base64Bytes(block.data))}; not shown: tool results reach the model as text only]`;
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
