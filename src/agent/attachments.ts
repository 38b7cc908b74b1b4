import { readFile } from 'node:fs/promises';
import { notFound, validationError } from '../core/errors.js';
import type { UploadsService } from '../uploads/service.js';

export type Attachment = { file_id: string } | { type: 'image' | 'document'; url: string; name?: string };

const TEXT_LIKE = /^(text\/|application\/(json|xml|yaml|x-yaml|toml|javascript|x-ndjson))/;
const MAX_INLINE_CHARS = 200_000;

/**
 * Turns a chat message and its attachments into the prompt the run stores: text documents are
 * inlined (fenced, with their name); images are noted by name, since stored messages are text.
 */
export class AttachmentResolver {
  constructor(private readonly uploads: UploadsService) {}

  async buildPrompt(userId: string, content: string, attachments: Attachment[]): Promise<string> {
    const parts = [content];
    for (const attachment of attachments) {
      const { name, mimeType, bytes } = await this.load(userId, attachment);
      if (mimeType.startsWith('image/')) {
        parts.push(`[Attached image: ${name} (${mimeType}, ${bytes.length} bytes)]`);
        continue;
      }
      if (!TEXT_LIKE.test(mimeType) && bytes.includes(0)) {
        parts.push(`[Attached file: ${name} (${mimeType}, ${bytes.length} bytes, binary: not inlined)]`);
        continue;
      }
      let text = bytes.toString('utf8');
      if (text.length > MAX_INLINE_CHARS) text = `${text.slice(0, MAX_INLINE_CHARS)}\n[truncated: ${text.length - MAX_INLINE_CHARS} more characters]`;
      parts.push(`[Attached document: ${name}]\n\`\`\`\n${text}\n\`\`\``);
    }
    return parts.join('\n\n');
  }

  private async load(userId: string, attachment: Attachment): Promise<{ name: string; mimeType: string; bytes: Buffer }> {
    if ('file_id' in attachment) {
      const file = await this.uploads.find(userId, attachment.file_id);
      if (!file) throw notFound(`Attachment ${attachment.file_id}`);
      return { name: file.name, mimeType: file.mime_type, bytes: await readFile(file.storage_path) };
    }
    const match = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(attachment.url);
    if (!match) throw validationError('Attachment url must be a data: URL', [{ field: 'attachments.url', message: 'invalid data URL' }]);
    const mimeType = match[1] || (attachment.type === 'image' ? 'image/png' : 'text/plain');
    const bytes = match[2] ? Buffer.from(match[3]!, 'base64') : Buffer.from(percentDecode(match[3]!), 'utf8');
    return { name: attachment.name ?? `${attachment.type}`, mimeType, bytes };
  }
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw validationError('Attachment data URL has invalid percent-encoding', [{ field: 'attachments.url', message: 'invalid percent-encoding' }]);
  }
}
