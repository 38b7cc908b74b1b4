import { randomUUID } from 'node:crypto';
import { constants, lstatSync } from 'node:fs';
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { isoNow } from '../core/ids.js';
import {
  workingMemoryMetadataSchema,
  type WorkingMemoryDocument,
  type WorkingMemoryMetadata,
  type WorkingMemorySnapshot,
} from '../schemas/working-memory.js';

export type { WorkingMemoryDocument, WorkingMemoryMetadata, WorkingMemorySnapshot };

/** The three files of a session's working memory (SPEC §8.3), by their key in the API. */
export const WORKING_MEMORY_FILES = {
  task_plan: { file: 'task_plan.md', title: 'Task plan' },
  findings: { file: 'findings.md', title: 'Findings' },
  progress: { file: 'progress.md', title: 'Progress' },
} as const;
export type WorkingMemoryKey = keyof typeof WORKING_MEMORY_FILES;

const FILE_NAMES = new Set<string>(Object.values(WORKING_MEMORY_FILES).map((entry) => entry.file));

/** True for a workspace-relative path that is one of the working-memory files (memory, not a deliverable). */
export const isWorkingMemoryPath = (relativePath: string): boolean => FILE_NAMES.has(relativePath);

/** A file stays small enough to re-read every iteration and to serve over HTTP. */
export const MAX_FILE_BYTES = 1024 * 1024;
/** The plan is put into every model request; longer plans are cut there (the file keeps everything). */
export const PLAN_CONTEXT_MAX_CHARS = 20_000;

const DEFAULT_STATUS = 'active';

/** What a change reports, e.g. as the `working_memory` event. */
export interface WorkingMemoryChange {
  file: string;
  key: WorkingMemoryKey;
  version: number;
  status: string;
  updated_at: string;
}

export class WorkingMemoryFullError extends Error {
  constructor(readonly file: string) {
    super(`${file} has reached its size limit of ${MAX_FILE_BYTES} bytes; write further notes to a separate file.`);
    this.name = 'WorkingMemoryFullError';
  }
}

/** Changes are read-modify-write: one at a time per workspace, so quick updates never lose a version. */
const queues = new Map<string, Promise<unknown>>();

function serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
  const next = (queues.get(key) ?? Promise.resolve()).catch(() => {}).then(work);
  queues.set(key, next);
  void next
    .finally(() => {
      if (queues.get(key) === next) queues.delete(key);
    })
    .catch(() => {});
  return next;
}

/**
 * One session's working memory: markdown files with YAML front matter in its workspace. Every
 * change bumps `version` and replaces the file atomically (temp file + rename), so a reader never
 * sees half a file.
 */
export class WorkingMemory {
  constructor(
    private readonly workspaceDir: string,
    private readonly sessionId: string,
  ) {}

  async read(key: WorkingMemoryKey): Promise<WorkingMemoryDocument> {
    const raw = await this.readRaw(key);
    return raw ? splitFrontMatter(raw.text) : { content: '', metadata: null };
  }

  async snapshot(): Promise<WorkingMemorySnapshot> {
    const [task_plan, findings, progress] = await Promise.all([this.read('task_plan'), this.read('findings'), this.read('progress')]);
    return { session_id: this.sessionId, task_plan, findings, progress };
  }

  /** Replaces the body (the plan); `status` keeps its previous value when omitted. */
  rewrite(key: WorkingMemoryKey, body: string, status?: string): Promise<WorkingMemoryChange> {
    return this.change(key, () => ({ body, status }));
  }

  /** Appends an entry under a timestamped heading (findings, progress). */
  append(key: WorkingMemoryKey, entry: string): Promise<WorkingMemoryChange> {
    return this.change(key, (current, now) => {
      const previous = current.content.replace(/\s+$/, '');
      const section = `## ${now}\n\n${entry.replace(/\s+$/, '')}\n`;
      return { body: previous ? `${previous}\n\n${section}` : section };
    });
  }

  /** The plan as the agent should see it at the start of an iteration, or null when there is none. */
  async planForContext(): Promise<string | null> {
    let plan: WorkingMemoryDocument;
    try {
      plan = await this.read('task_plan');
    } catch {
      return null; // the plan is guidance: an unreadable file must not fail the run
    }
    const body = plan.content.trim();
    if (!body) return null;
    const shown = body.length > PLAN_CONTEXT_MAX_CHARS ? `${body.slice(0, PLAN_CONTEXT_MAX_CHARS)}\n[… plan truncated; read task_plan.md for the rest]` : body;
    const label = plan.metadata ? `task_plan.md, version ${plan.metadata.version}, status ${plan.metadata.status}` : 'task_plan.md';
    return `Current plan (${label}):\n\n${shown}`;
  }

  private change(
    key: WorkingMemoryKey,
    edit: (current: WorkingMemoryDocument, now: string) => { body: string; status?: string },
  ): Promise<WorkingMemoryChange> {
    return serialized(this.workspaceDir, async () => {
      const { file, title } = WORKING_MEMORY_FILES[key];
      const raw = await this.readRaw(key);
      const current = raw ? splitFrontMatter(raw.text) : { content: '', metadata: null };
      const now = isoNow();
      const { body, status } = edit(current, now);
      const metadata: WorkingMemoryMetadata = {
        title,
        session_id: this.sessionId,
        status: status ?? current.metadata?.status ?? DEFAULT_STATUS,
        created_at: current.metadata?.created_at ?? now,
        updated_at: now,
        version: (current.metadata?.version ?? 0) + 1,
      };
      const text = `---\n${stringify(metadata)}---\n\n${body}`;
      if (Buffer.byteLength(text) > MAX_FILE_BYTES) throw new WorkingMemoryFullError(file);
      await this.replace(file, text);
      return { file, key, version: metadata.version, status: metadata.status, updated_at: now };
    });
  }

  /** The file's text (first MAX_FILE_BYTES), or null when it is absent or not a regular file (a symlink is never followed). */
  private async readRaw(key: WorkingMemoryKey): Promise<{ text: string } | null> {
    const path = join(this.workspaceDir, WORKING_MEMORY_FILES[key].file);
    // Every run asks for its plan, and most sessions have none: a failed open costs a trip to the
    // thread pool and an Error with its stack, one lstat neither.
    if (!lstatSync(path, { throwIfNoEntry: false })) return null;
    let handle;
    try {
      handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return null;
      throw error;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) return null;
      const buffer = Buffer.alloc(Math.min(info.size, MAX_FILE_BYTES));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return { text: buffer.subarray(0, bytesRead).toString('utf8') };
    } finally {
      await handle.close();
    }
  }

  private async replace(file: string, text: string): Promise<void> {
    const temporary = join(this.workspaceDir, `.${file}.${randomUUID()}.tmp`);
    try {
      await writeFile(temporary, text, { flag: 'wx' });
      await rename(temporary, join(this.workspaceDir, file));
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
  }
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

/**
 * Splits `---\n<yaml>\n---\n<body>`. A file without valid front matter (e.g. written by another
 * tool) is all body with null metadata; its next change starts at version 1.
 */
export function splitFrontMatter(text: string): WorkingMemoryDocument {
  const match = FRONT_MATTER.exec(text);
  if (!match) return { content: text, metadata: null };
  const body = text.slice(match[0].length).replace(/^\r?\n/, '');
  let parsed: unknown;
  try {
    parsed = parse(match[1]!);
  } catch {
    return { content: body, metadata: null };
  }
  const metadata = workingMemoryMetadataSchema.safeParse(parsed);
  return { content: body, metadata: metadata.success ? metadata.data : null };
}
