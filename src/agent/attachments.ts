import { AppError, notFound, validationError } from '../core/errors.js';
import { decodeDataUrl } from '../uploads/data-url.js';
import { isSupportedImageType, normalizeImageType, sniffImageType, SUPPORTED_IMAGE_TYPES } from '../uploads/image-type.js';
import type { UploadsService } from '../uploads/service.js';
import type { StoredImage } from './conversation.js';

export type Attachment = { file_id: string } | { type: 'image' | 'document'; url: string; name?: string };

const TEXT_LIKE = /^(text\/|application\/(json|xml|yaml|x-yaml|toml|javascript|x-ndjson))/;
/** Documents longer than this are inlined up to it, with a note saying how much was cut. */
export const MAX_INLINE_CHARS = 200_000;
/**
 * Largest image sent to a model: Anthropic's per-image limit (OpenAI allows more), so one
 * attachment never fails a run at whichever provider serves it. Larger images are a 413.
 */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/** What a chat message becomes: the prompt text the run stores, and the images stored with it. */
export interface ResolvedAttachments {
  prompt: string;
  images: StoredImage[];
}

interface Loaded {
  field: string;
  name: string;
  /** The declared MIME type (upload or data URL); empty when none was given. */
  declaredType: string;
  bytes: Buffer;
  /** Set for uploads; a data URL gets one when its image is stored. */
  fileId?: string;
  wantsImage: boolean;
}

/**
 * Turns a chat message and its attachments into what the run stores: text documents are inlined
 * (fenced, with their name); images are checked (type by their bytes, size), data-URL images are
 * stored as uploads, and all are returned as references the run keeps with the user message so
 * every later model call can send them as image parts.
 */
export class AttachmentResolver {
  constructor(private readonly uploads: UploadsService) {}

  async resolve(userId: string, content: string, attachments: Attachment[]): Promise<ResolvedAttachments> {
    // Everything is loaded and checked before anything is stored, so a 4xx leaves no orphan upload.
    const loaded: Loaded[] = [];
    for (const [index, attachment] of attachments.entries()) loaded.push(await this.load(userId, attachment, `attachments[${index}]`));
    const imageTypes = loaded.map(checkImage);

    const parts = [content];
    const images: StoredImage[] = [];
    for (const [index, item] of loaded.entries()) {
      const imageType = imageTypes[index];
      if (imageType) {
        const fileId = item.fileId ?? (await this.uploads.saveBytes(userId, { name: item.name, mimeType: imageType, bytes: item.bytes })).file_id;
        images.push({ type: 'image', file_id: fileId, media_type: imageType, name: item.name });
        parts.push(`[Attached image: ${item.name} (${imageType}, ${item.bytes.length} bytes)]`);
      } else parts.push(documentText(item));
    }
    return { prompt: parts.join('\n\n'), images };
  }

  private async load(userId: string, attachment: Attachment, field: string): Promise<Loaded> {
    if ('file_id' in attachment) {
      const file = await this.uploads.readOwned(userId, attachment.file_id);
      if (!file) throw notFound(`Attachment ${attachment.file_id}`);
      const declaredType = normalizeImageType(file.mime_type);
      return { field: `${field}.file_id`, name: file.name, declaredType, bytes: file.bytes, fileId: file.id, wantsImage: declaredType.startsWith('image/') };
    }
    const { mediaType, bytes } = decodeDataUrl(attachment.url, `${field}.url`);
    const declaredType = normalizeImageType(mediaType);
    return { field: `${field}.url`, name: attachment.name ?? attachment.type, declaredType, bytes, wantsImage: attachment.type === 'image' || declaredType.startsWith('image/') };
  }
}

/**
 * The media type to send an image attachment as, or null for a document. What the bytes are
 * decides (a PNG uploaded as application/octet-stream is still a PNG); an attachment that claims
 * to be an image must be one of the supported types and really be one.
 */
function checkImage(item: Loaded): string | null {
  const sniffed = sniffImageType(item.bytes);
  if (!sniffed && !item.wantsImage) return null;
  if (item.declaredType.startsWith('image/') && !isSupportedImageType(item.declaredType)) {
    throw validationError(`Unsupported image type ${item.declaredType}; send ${SUPPORTED_IMAGE_TYPES.join(', ')}`, [{ field: item.field, message: 'unsupported image type' }]);
  }
  if (item.wantsImage && item.declaredType !== '' && !item.declaredType.startsWith('image/')) {
    throw validationError(`An image attachment cannot have type ${item.declaredType.slice(0, 100)}`, [{ field: item.field, message: 'not an image type' }]);
  }
  if (!sniffed) {
    throw validationError(`Attachment ${item.name} is not a valid PNG, JPEG, GIF or WebP image`, [{ field: item.field, message: 'not a valid image' }]);
  }
  if (item.bytes.length > MAX_IMAGE_BYTES) {
    throw new AppError('PAYLOAD_TOO_LARGE', `Image ${item.name} is ${item.bytes.length} bytes; images may be at most ${MAX_IMAGE_BYTES} bytes`, { errors: [{ field: item.field, message: 'image too large' }] });
  }
  return sniffed;
}

function documentText(item: Loaded): string {
  const mimeType = item.declaredType || 'text/plain';
  if (!TEXT_LIKE.test(mimeType) && item.bytes.includes(0)) {
    return `[Attached file: ${item.name} (${mimeType}, ${item.bytes.length} bytes, binary: not inlined)]`;
  }
  let text = item.bytes.toString('utf8');
  if (text.length > MAX_INLINE_CHARS) text = `${text.slice(0, MAX_INLINE_CHARS)}\n[truncated: ${text.length - MAX_INLINE_CHARS} more characters]`;
  return `[Attached document: ${item.name}]\n\`\`\`\n${text}\n\`\`\``;
}
