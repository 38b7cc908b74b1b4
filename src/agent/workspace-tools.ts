import type { ToolRegistry } from '../tools/registry.js';
import type { ToolPolicyOverrides } from '../tools/policy.js';
import type { Store } from '../store/store.js';
import { presentArtifact } from '../sessions/service.js';
import type { WorkingMemoryChange } from '../memory/working-memory.js';
import { recordArtifact } from '../sessions/artifact-files.js';
import type { AgentTools, RunRecorder } from './loop.js';
import type { RunObserver } from './run-observer.js';


/**
 * The registry bound to one run: its workspace directory, its signal, and artifact recording.
 * `wroteFiles` says whether this pass of the run recorded an artifact (else its run has none new).
 */
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
}): AgentTools & { wroteFiles(): boolean } {
  const { registry, store, recorder, sessionId, runId, workspaceDir } = options;
  let wroteFiles = false;
  const onFileDeleted = (relativePath: string) => store.artifacts.deleteByPath(sessionId, relativePath);
  const onFileWritten = async (relativePath: string) => {
    wroteFiles = true;
    const artifact = await recordArtifact(store, { sessionId, runId, workspaceDir }, relativePath);
    if (artifact) await recorder.emit('artifact', presentArtifact(artifact));
  };
  const onWorkingMemoryChanged = (change: WorkingMemoryChange) => recorder.emit('working_memory', { ...change });
  return {
    wroteFiles: () => wroteFiles,
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
