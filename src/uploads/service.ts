import type { StoredImage } from '../agent/conversation.js';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, validationError } from '../core/errors.js';
import { isoNow, newId } from '../core/ids.js';
import type { FileRow } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { sniffImageType } from './image-type.js';

export interface UploadedFile {
  file_id: string;
  name: string;
  size: number;
  mime_type: string;
}

/** Uploaded attachments: bytes under `<data dir>/uploads/<user>/<id>`, metadata in the store. */
export class UploadsService {
  private readonly root: string;

  constructor(
    private readonly store: Store,
    dataDir: string,
  ) {
    this.root = resolve(dataDir, 'uploads');
  }

  /**
   * Streams an upload to disk. `isTruncated` reports whether the multipart parser cut the file
   * at the size limit; a cut file is deleted and answered with 413, never stored half.
   */
  async save(userId: string, file: { filename: string; mimetype: string; stream: Readable; isTruncated: () => boolean }): Promise<UploadedFile> {
    // The parser may fail the part (a body cut short) while the directory is being made: remember it.
    // Nothing reads the part before the pipeline below, so no data is lost meanwhile.
    let earlyError: unknown;
    const onEarlyError = (error: unknown) => (earlyError ??= error);
    file.stream.once('error', onEarlyError);
    const id = newId();
    const directory = join(this.root, userId);
    await mkdir(directory, { recursive: true });
    file.stream.off('error', onEarlyError);
    if (earlyError && !isCutShort(earlyError)) throw earlyError;
    // A part the parser already destroyed was cut short (it may have done so before we got it).
    if (earlyError || file.stream.destroyed) throw malformedUpload();
    const storagePath = join(directory, id);
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(file.stream, counter, createWriteStream(storagePath, { mode: 0o600 }));
    } catch (error) {
      await rm(storagePath, { force: true });
      throw isCutShort(error) ? malformedUpload() : error;
    }
    if (file.isTruncated()) {
      await rm(storagePath, { force: true });
      throw new AppError('PAYLOAD_TOO_LARGE', 'Uploaded file is larger than the upload limit');
    }
    const row: FileRow = {
      id,
      user_id: userId,
      name: sanitizeName(file.filename),
      storage_path: storagePath,
      mime_type: file.mimetype || 'application/octet-stream',
      size,
      created_at: isoNow(),
    };
    await this.store.files.create(row);
    return { file_id: row.id, name: row.name, size: row.size, mime_type: row.mime_type };
  }

  /** Stores bytes that arrived inline (a data-URL attachment) as an upload, so they get a file_id. */
  async saveBytes(userId: string, file: { name: string; mimeType: string; bytes: Buffer }): Promise<UploadedFile> {
    const id = newId();
    const directory = join(this.root, userId);
    await mkdir(directory, { recursive: true });
    const storagePath = join(directory, id);
    await writeFile(storagePath, file.bytes, { mode: 0o600 });
    const row: FileRow = { id, user_id: userId, name: sanitizeName(file.name), storage_path: storagePath, mime_type: file.mimeType, size: file.bytes.length, created_at: isoNow() };
    try {
      await this.store.files.create(row);
    } catch (error) {
      await rm(storagePath, { force: true });
      throw error;
    }
    return { file_id: row.id, name: row.name, size: row.size, mime_type: row.mime_type };
  }

  /**
   * ImageLoader for the agent: an image referenced by a stored message, as base64 with the type
   * its bytes show. Not scoped to a user: the reference was checked when the message was sent,
   * and every member of the session's workspace may replay it. Null when the file is gone.
   */
  /** ImageStore: keeps an image a tool returned, as an upload of the run's user. */
  async saveImage(userId: string, image: { mediaType: string; dataBase64: string }, name: string): Promise<StoredImage> {
    const extension = image.mediaType.split('/')[1] ?? 'img';
    const saved = await this.saveBytes(userId, { name: `${name}.${extension}`, mimeType: image.mediaType, bytes: Buffer.from(image.dataBase64, 'base64') });
    return { type: 'image', file_id: saved.file_id, media_type: image.mediaType, name: saved.name };
  }

  async loadImage(fileId: string): Promise<{ mediaType: string; dataBase64: string } | null> {
    const row = await this.store.files.findById(fileId);
    if (!row) return null;
    const bytes = await readFile(row.storage_path).catch(() => null);
    const mediaType = bytes && sniffImageType(bytes);
    if (!bytes || !mediaType) return null;
    return { mediaType, dataBase64: bytes.toString('base64') };
  }

  /** An upload the user owns with its bytes, or undefined (unknown, another user's, or its file is gone). */
  async readOwned(userId: string, fileId: string): Promise<(FileRow & { bytes: Buffer }) | undefined> {
    const row = await this.find(userId, fileId);
    const bytes = row && (await readFile(row.storage_path).catch(() => null));
    return row && bytes ? { ...row, bytes } : undefined;
  }

  /** An upload the user owns, or undefined (another user's id looks the same as an unknown one). */
  async find(userId: string, fileId: string): Promise<FileRow | undefined> {
    const row = await this.store.files.findById(fileId);
    return row && row.user_id === userId ? row : undefined;
  }
}

/** The multipart parser's words for a body that ended inside a part. */
const isCutShort = (error: unknown): boolean => error instanceof Error && /terminated early|unexpected end/i.test(error.message);

const malformedUpload = () => validationError('The multipart body ended before the file was complete');

function sanitizeName(name: string): string {
  const cleaned = basename(name.replaceAll('\\', '/')).replace(/[\u0000-\u001f]/g, '').slice(0, 255);
  return cleaned || 'upload';
}
