import { z } from 'zod';
import { isoTimestamp } from './common.js';

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
  .meta({ id: 'Artifact' });
export type Artifact = z.infer<typeof artifactSchema>;

export const artifactListSchema = z.object({ items: z.array(artifactSchema), total: z.number().int() });

export const uploadedFileSchema = z
  .object({ file_id: z.string(), name: z.string(), size: z.number().int(), mime_type: z.string() })
  .meta({ id: 'UploadedFile' });
