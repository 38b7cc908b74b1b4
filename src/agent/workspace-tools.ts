import { stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { isoNow, newId } from '../core/ids.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { ToolPolicyOverrides } from '../tools/policy.js';
import type { Store } from '../store/store.js';
import { presentArtifact } from '../sessions/service.js';
import { isWorkingMemoryPath, type WorkingMemoryChange } from '../memory/working-memory.js';
import type { AgentTools, RunRecorder } from './loop.js';
import type { RunObserver } from './run-observer.js';

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

/** The registry bound to one run: its workspace directory, its signal, and artifact recording. */
export function bindTools(options: {
  registry: ToolRegistry;
  store: Store;
  recorder: RunRecorder;
  sessionId: string;
  runId: string;
  workspaceDir: string;
  timeoutMs: number;
  maxResultChars: number;
  allowed?: string[];
  workspacePolicy?: ToolPolicyOverrides | null;
  observer: RunObserver;
}): AgentTools {
  const { registry, store, recorder, sessionId, runId, workspaceDir } = options;
  const onFileDeleted = (relativePath: string) => store.artifacts.deleteByPath(sessionId, relativePath);
  const onFileWritten = async (relativePath: string) => {
    if (isWorkingMemoryPath(relativePath)) return; // memory, not a deliverable, even when written by file_write
    const info = await stat(join(workspaceDir, relativePath));
    const now = isoNow();
    const artifact = await store.artifacts.upsert({
      id: newId(),
      session_id: sessionId,
      run_id: runId,
      name: basename(relativePath),
      path: relativePath,
      mime_type: mimeTypeOf(relativePath),
      size: info.size,
      created_at: now,
      updated_at: now,
    });
    await recorder.emit('artifact', presentArtifact(artifact));
  };
  const onWorkingMemoryChanged = (change: WorkingMemoryChange) => recorder.emit('working_memory', { ...change });
  return {
    specs: () => registry.specs(options.allowed, undefined, options.workspacePolicy),
    fromWireName: (wireName) => registry.fromWireName(wireName),
    toWireName: (name) => registry.wireName(name),
    execute: async (name, rawArguments, signal) => {
      const result = await registry.execute(name, rawArguments, { sessionId, runId, workspaceDir, signal, onFileWritten, onFileDeleted, onWorkingMemoryChanged }, { timeoutMs: options.timeoutMs, maxResultChars: options.maxResultChars });
      options.observer.toolFinished(registry.get(name) ? name : 'unknown', result.success, result.durationMs);
      return result;
    },
  };
}
