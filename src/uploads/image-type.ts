/**
 * The image formats every vision provider we speak to accepts (OpenAI and Anthropic both take
 * exactly these four). The type is read from the bytes, not trusted from a declared MIME type:
 * providers reject an image whose declared media type does not match its content.
 */
export const SUPPORTED_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type SupportedImageType = (typeof SUPPORTED_IMAGE_TYPES)[number];

const startsWith = (bytes: Uint8Array, signature: number[], offset = 0): boolean =>
  bytes.length >= offset + signature.length && signature.every((byte, index) => bytes[offset + index] === byte);

const ascii = (text: string): number[] => [...text].map((character) => character.charCodeAt(0));

/** The supported image type these bytes are, by their magic number, or null. */
export function sniffImageType(bytes: Uint8Array): SupportedImageType | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'image/gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'image/webp';
  return null;
}

/** `image/jpg` and `image/pjpeg` are common misspellings of JPEG; everything else compares as written. */
export function normalizeImageType(mimeType: string): string {
  const bare = mimeType.split(';')[0]!.trim().toLowerCase();
  return bare === 'image/jpg' || bare === 'image/pjpeg' ? 'image/jpeg' : bare;
}

export const isSupportedImageType = (mimeType: string): mimeType is SupportedImageType =>
  (SUPPORTED_IMAGE_TYPES as readonly string[]).includes(normalizeImageType(mimeType));
