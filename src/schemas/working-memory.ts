import { z } from 'zod';
import { isoTimestamp } from './common.js';

/** The YAML front matter of each working-memory file. */
export const workingMemoryMetadataSchema = z
  .object({
    title: z.string(),
    session_id: z.string(),
    status: z.string(),
    created_at: isoTimestamp,
    updated_at: isoTimestamp,
    version: z.number().int().min(1).describe('Incremented by every change, starting at 1'),
  })
  .meta({ id: 'WorkingMemoryMetadata' });
export type WorkingMemoryMetadata = z.infer<typeof workingMemoryMetadataSchema>;

export const workingMemoryDocumentSchema = z
  .object({
    content: z.string().describe('The file body, without its front matter; "" when the file does not exist yet'),
    metadata: workingMemoryMetadataSchema.nullable().describe('null when the file does not exist yet (or has no valid front matter)'),
  })
  .meta({ id: 'WorkingMemoryDocument' });
export type WorkingMemoryDocument = z.infer<typeof workingMemoryDocumentSchema>;

export const workingMemorySchema = z
  .object({
    session_id: z.string(),
    task_plan: workingMemoryDocumentSchema,
    findings: workingMemoryDocumentSchema,
    progress: workingMemoryDocumentSchema,
  })
  .meta({ id: 'WorkingMemory' });
export type WorkingMemorySnapshot = z.infer<typeof workingMemorySchema>;
