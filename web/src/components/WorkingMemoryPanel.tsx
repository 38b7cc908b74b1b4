import { useMemo } from 'preact/hooks';
import type { WorkingMemory, WorkingMemoryDocument } from '../api/types';
import { renderMarkdown } from '../markdown/render';

const FILES: Array<{ key: 'task_plan' | 'findings' | 'progress'; title: string }> = [
  { key: 'task_plan', title: 'Plan' },
  { key: 'findings', title: 'Findings' },
  { key: 'progress', title: 'Progress' },
];

/** The agent's three working-memory files (SPEC §8.3), refreshed on every `working_memory` event. */
export function WorkingMemoryPanel({ memory }: { memory: WorkingMemory | null }) {
  return (
    <section class="panel-section" aria-labelledby="memory-title">
      <h2 id="memory-title" class="panel-title">
        Working memory
      </h2>
      {FILES.map(({ key, title }) => (
        <MemoryFile key={key} title={title} document={memory?.[key] ?? null} />
      ))}
    </section>
  );
}

function MemoryFile({ title, document }: { title: string; document: WorkingMemoryDocument | null }) {
  const html = useMemo(() => (document?.content ? renderMarkdown(document.content) : ''), [document?.content]);
  const version = document?.metadata?.version;
  return (
    <details class="memory-file" open={Boolean(document?.content)} data-file={title.toLowerCase()}>
      <summary>
        {title}
        {version !== undefined && <span class="muted"> v{version}</span>}
      </summary>
      {html ? <div class="markdown" dangerouslySetInnerHTML={{ __html: html }} /> : <p class="muted">Empty.</p>}
    </details>
  );
}
