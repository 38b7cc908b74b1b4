import { constants } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { validationError } from '../../core/errors.js';
import { errorBody, idParams } from '../../schemas/common.js';
import { uploadedFileSchema } from '../../schemas/artifact.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';
import { notFound } from '../../core/errors.js';
import { attachmentDisposition } from '../content-disposition.js';

const security = [{ bearer: [] }];

export async function filesRoutes(app: App, context: HttpContext): Promise<void> {
  const { uploads, config } = context;
  // Stateless path mapping, same data dir as the run manager's.
  const { directories } = context;

  app.post(
    '/files',
    {
      schema: {
        tags: ['files'],
        security,
        summary: 'Upload an attachment (multipart form field "file")',
        consumes: ['multipart/form-data'],
        upload: 'file',
        response: { 201: uploadedFileSchema, 400: errorBody, 401: errorBody, 413: errorBody, 429: errorBody },
      },
      config: {
        rateLimit: {
          max: config.limits.uploads_per_minute,
          timeWindow: 60_000,
          groupId: 'uploads',
        },
      },
    },
    async (request, reply) => {
      const { userId } = requireIdentity(request);
      if (!request.isMultipart()) throw validationError('Expected multipart/form-data with a "file" field');
      const part = await request.file().catch((error: unknown) => {
        // Busboy's complaints (no boundary, malformed headers) are the client's mistake, not ours.
        if (error instanceof Error && !('statusCode' in error)) throw validationError(`Malformed multipart body: ${error.message}`);
        throw error;
      });
      if (!part || part.fieldname !== 'file') throw validationError('Missing form field "file"');
      const saved = await uploads.save(userId, {
        filename: part.filename,
        mimetype: part.mimetype,
        stream: part.file,
        isTruncated: () => part.file.truncated,
      });
      return reply.code(201).send(saved);
    },
  );

  app.get(
    '/artifacts/:id/content',
    {
      schema: {
        tags: ['sessions'],
        security,
        summary: 'Download an artifact (always as an attachment, never rendered inline)',
        params: idParams,
        download: 'The file, with its media type',
      },
    },
    async (request, reply) => {
      const { userId } = requireIdentity(request);
      const artifact = await context.store.artifacts.findById(request.params.id);
      if (!artifact) throw notFound('Artifact');
      await context.sessions.requireAccess(userId, artifact.session_id);
      const file = await openInside(directories.pathOf(artifact.session_id), context.sessions.artifactPath(artifact));
      if (!file) throw notFound('Artifact file');
      return (
        reply
          .type(artifact.mime_type)
          .header('content-length', file.size)
          .header('content-disposition', attachmentDisposition(artifact.name))
          // Agent-written HTML or SVG must not run as active content on our origin: no sniffing,
          // and a document opened from this response anyway is sandboxed with nothing allowed.
          .header('x-content-type-options', 'nosniff')
          .header('content-security-policy', "default-src 'none'; sandbox")
          .header('cache-control', 'private, no-cache')
          .send(file.handle.createReadStream())
      );
    },
  );
}

/**
 * Opens an artifact for reading only if it is a regular file whose real path is inside its
 * session directory: the agent's shell could have replaced it with a symlink to anything on the
 * host (the database, the JWT secret). O_NONBLOCK keeps a FIFO from hanging the request.
 */
async function openInside(directory: string, path: string): Promise<{ handle: FileHandle; size: number } | null> {
  const [realDirectory, realFile] = await Promise.all([realpath(directory).catch(() => null), realpath(path).catch(() => null)]);
  if (!realDirectory || !realFile || !realFile.startsWith(realDirectory + sep)) return null;
  const handle = await open(realFile, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
  if (!handle) return null;
  const info = await handle.stat().catch(() => null);
  if (!info?.isFile()) {
    await handle.close();
    return null;
  }
  return { handle, size: info.size };
}
