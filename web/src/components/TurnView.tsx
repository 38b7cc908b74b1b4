import type { Turn } from '../state/chat-model';
import { MarkdownView } from './MarkdownView';
import { ThinkingBlock } from './ThinkingBlock';
import { formatDuration, ToolCard } from './ToolCard';

const WORKING: Record<string, string> = {
  sending: 'Sending…',
  running: 'Working…',
  waiting_approval: 'Waiting for your approval',
};

/** A prompt and everything the agent did for it. Re-renders when a block is added, not per token. */
export function TurnView({ turn }: { turn: Turn }) {
  const prompt = turn.prompt.value;
  const state = turn.state.value;
  const summary = turn.summary.value;
  return (
    <article class="turn" data-state={state} data-run-id={turn.runId ?? undefined}>
      {prompt !== null && (
        <div class="user-message">
          <h3 class="visually-hidden">You</h3>
          <p>{prompt}</p>
        </div>
      )}
      <div class="assistant-message">
        <h3 class="visually-hidden">Agent</h3>
        {turn.blocks.value.map((block) => {
          switch (block.kind) {
            case 'thinking':
              return <ThinkingBlock key={block.key} buffer={block.buffer} />;
            case 'text':
              return <MarkdownView key={block.key} buffer={block.buffer} />;
            case 'tool':
              return <ToolCard key={block.key} block={block} />;
            case 'notice':
              return (
                <p key={block.key} class={`notice notice-${block.tone}`} role={block.tone === 'error' ? 'alert' : undefined}>
                  {block.text}
                </p>
              );
          }
        })}
        {WORKING[state] && (
          <p class="working" aria-live="polite">
            <span class="spinner" aria-hidden="true" /> {WORKING[state]}
          </p>
        )}
        {summary && (
          <p class="turn-summary muted">
            {[
              summary.iterations !== undefined && `${summary.iterations} model call${summary.iterations === 1 ? '' : 's'}`,
              summary.durationMs !== undefined && formatDuration(summary.durationMs),
              summary.inputTokens !== undefined && `${summary.inputTokens} in / ${summary.outputTokens ?? 0} out tokens`,
              summary.artifacts.length > 0 && `files: ${summary.artifacts.map((artifact) => artifact.name).join(', ')}`,
            ]
              .filter(Boolean)
              .join(' · ')}
          </p>
        )}
      </div>
    </article>
  );
}
