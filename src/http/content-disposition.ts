/** RFC 8187 attr-char: the only bytes that may stand unescaped in a `filename*` value. */
const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;

/**
 * `Content-Disposition: attachment` for any file name (RFC 6266): a plain-ASCII `filename`
 * fallback for old clients plus the exact name as UTF-8 in `filename*`. Every byte outside
 * attr-char is percent-encoded (encodeURIComponent would leave `' ( ) *` as they are, which
 * `filename*` does not allow), so quotes, semicolons, CR/LF or non-ASCII can never end the
 * header or add parameters.
 */
export function attachmentDisposition(name: string): string {
  return `attachment; filename="${asciiFallback(name)}"; filename*=UTF-8''${encodeExtValue(name)}`;
}

function encodeExtValue(value: string): string {
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const character = String.fromCharCode(byte);
    encoded += ATTR_CHAR.test(character) ? character : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/**
 * The name reduced to printable ASCII for the quoted `filename`: accents are dropped (é → e),
 * and quotes, backslashes, `%` (some clients percent-decode it), `;` and anything else outside
 * printable ASCII become `_`.
 */
function asciiFallback(name: string): string {
  const fallback = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  return fallback.trim() === '' ? 'download' : fallback;
}
