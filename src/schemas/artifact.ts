import { z } from 'zod';
import { isoTimestamp } from './common.js';
import { EXAMPLE } from './examples.js';

export const artifactSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    path: z.string(),
    mime_type: z.string(),
    size: z.number().int(),
    created_at: isoTimestamp,
    download_url: z.string(),
  })
  .meta({
    id: 'Artifact',
    examples: [
      {
        id: EXAMPLE.artifactId,
        name: 'hello.txt',
        path: 'hello.txt',
        mime_type: 'text/plain',
        size: 2,
        created_at: EXAMPLE.time,
        download_url: `/api/v1/artifacts/${EXAMPLE.artifactId}/content`,
      },
    ],
  });
export type Artifact = z.infer<typeof artifactSchema>;

export const artifactListSchema = z.object({ items: z.array(artifactSchema), total: z.number().int() });

export const uploadedFileSchema = z
  .object({ file_id: z.string(), name: z.string(), size: z.number().int(), mime_type: z.string() })
  .meta({ id: 'UploadedFile', examples: [{ file_id: EXAMPLE.fileId, name: 'notes.md', size: 1234, mime_type: 'text/markdown' }] });
