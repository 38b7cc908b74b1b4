import type { Block } from '../state/chat-model';

type ToolBlock = Extract<Block, { kind: 'tool' }>;

const formatArgs = (args: unknown) => (typeof args === 'string' ? args : JSON.stringify(args, null, 2));
const PREVIEW_CHARS = 4000;

/** One tool call: name, arguments, then its result, duration and outcome. */
export function ToolCard({ block }: { block: ToolBlock }) {
  const result = block.result.value;
  const approval = block.approval.value;
  const state = result ? (result.success === false ? 'failed' : 'succeeded') : approval === 'pending' ? 'waiting' : 'running';
  const label = { failed: 'failed', succeeded: 'done', waiting: 'waiting for approval', running: 'running…' }[state];
  const text = result?.text ?? '';
  return (
    <details class={`tool-card tool-${state}`} data-tool={block.tool} data-call-id={block.callId}>
      <summary>
        <span class="tool-icon" aria-hidden="true">
          {state === 'failed' ? '✗' : state === 'succeeded' ? '✓' : '⚙'}
        </span>
        <span class="tool-name">{block.tool}</span>
        <span class="tool-state">{label}</span>
        {approval && approval !== 'pending' && <span class={`approval-note approval-${approval}`}>{approval}</span>}
        {result?.durationMs != null && <span class="muted">{formatDuration(result.durationMs)}</span>}
        {block.risk && block.risk !== 'low' && <span class={`risk risk-${block.risk}`}>{block.risk} risk</span>}
      </summary>
      <div class="tool-body">
        <h4>Arguments</h4>
        <pre class="tool-args">{formatArgs(block.args)}</pre>
        {result && (
          <>
            <h4>Result</h4>
            <pre class="tool-result">{text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}\n… (${text.length - PREVIEW_CHARS} more characters)` : text}</pre>
          </>
        )}
      </div>
    </details>
  );
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
