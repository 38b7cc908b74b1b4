import { stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { isoNow, newId } from '../core/ids.js';
import { isWorkingMemoryPath } from '../memory/working-memory.js';
import type { ArtifactRow } from '../store/schema.js';
import type { Store } from '../store/store.js';

const MIME_BY_EXTENSION: Record<string, string> = {
  '.md': 'text/markdown',
  '.txt': 'text/plain',
  '.json': 'application/json',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.css': 'text/css',
  '.xml': 'application/xml',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.csv': 'text/csv',
  '.py': 'text/x-python',
  '.ts': 'text/plain',
  '.js': 'text/javascript',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
};

export const mimeTypeOf = (path: string): string => MIME_BY_EXTENSION[extname(path).toLowerCase()] ?? 'application/octet-stream';

/**
 * Records a file a tool wrote in a session workspace as an artifact (or updates its size);
 * the working-memory files are memory, not deliverables, and return null.
 */
export async function recordArtifact(store: Store, target: { sessionId: string; runId: string | null; workspaceDir: string }, relativePath: string): Promise<ArtifactRow | null> {
  if (isWorkingMemoryPath(relativePath)) return null;
  const info = await stat(join(target.workspaceDir, relativePath));
  const now = isoNow();
  return store.artifacts.upsert({
    id: newId(),
    session_id: target.sessionId,
    run_id: target.runId,
    name: basename(relativePath),
    path: relativePath,
    mime_type: mimeTypeOf(relativePath),
    size: info.size,
    created_at: now,
    updated_at: now,
  });
}
