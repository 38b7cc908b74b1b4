import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { validationError } from '../../core/errors.js';
import { errorBody, idParams } from '../../schemas/common.js';
import { uploadedFileSchema } from '../../schemas/artifact.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';
import { notFound } from '../../core/errors.js';

const security = [{ bearer: [] }];

export async function filesRoutes(app: App, context: HttpContext): Promise<void> {
  const { uploads, config } = context;

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
    { schema: { tags: ['sessions'], security, summary: 'Download an artifact', params: idParams, download: 'The file, with its media type' } },
    async (request, reply) => {
      const { userId } = requireIdentity(request);
      const artifact = await context.store.artifacts.findById(request.params.id);
      if (!artifact) throw notFound('Artifact');
      await context.sessions.requireAccess(userId, artifact.session_id);
      const path = context.sessions.artifactPath(artifact);
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) throw notFound('Artifact file');
      return reply
        .type(artifact.mime_type)
        .header('content-length', info.size)
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(artifact.name)}`)
        .send(createReadStream(path));
    },
  );
}
