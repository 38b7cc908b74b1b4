import { validationError } from '../core/errors.js';

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;
const PARAMETER = /^[a-z0-9!#$&^_.+-]+=[^;]*$/i;
/** Standard alphabet, optional padding; whitespace is removed first (RFC 2397 allows folded data). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface DecodedDataUrl {
  /** Lower-case `type/subtype` without parameters; empty when the URL names none. */
  mediaType: string;
  bytes: Buffer;
}

/**
 * Decodes an RFC 2397 `data:` URL strictly: a malformed header, a bad media type or base64 that
 * is not base64 is the client's mistake (400), never silently turned into other bytes, which is
 * what `Buffer.from(text, 'base64')` would do.
 */
export function decodeDataUrl(url: string, field: string): DecodedDataUrl {
  const invalid = (message: string) => validationError(`Attachment data URL: ${message}`, [{ field, message }]);
  if (!/^data:/i.test(url)) throw invalid('must start with "data:"');
  const comma = url.indexOf(',');
  if (comma < 0) throw invalid('missing "," between the header and the data');
  const header = url.slice(5, comma).split(';').map((segment) => segment.trim());
  const isBase64 = header.length > 1 && header.at(-1)!.toLowerCase() === 'base64';
  if (isBase64) header.pop();
  const [mediaType = '', ...parameters] = header;
  if (mediaType !== '' && !MEDIA_TYPE.test(mediaType)) throw invalid(`"${mediaType.slice(0, 100)}" is not a media type`);
  if (parameters.some((parameter) => !PARAMETER.test(parameter))) throw invalid('malformed media type parameters');
  const data = url.slice(comma + 1);
  return { mediaType: mediaType.toLowerCase(), bytes: isBase64 ? decodeBase64(data, invalid) : decodePercent(data, invalid) };
}

function decodeBase64(data: string, invalid: (message: string) => Error): Buffer {
  const compact = data.replace(/[\t\n\f\r ]+/g, '');
  const badLength = compact.includes('=') ? compact.length % 4 !== 0 : compact.length % 4 === 1;
  if (!BASE64.test(compact) || badLength) throw invalid('the data is not valid base64');
  return Buffer.from(compact, 'base64');
}

function decodePercent(data: string, invalid: (message: string) => Error): Buffer {
  try {
    return Buffer.from(decodeURIComponent(data), 'utf8');
  } catch {
    throw invalid('invalid percent-encoding');
  }
}
