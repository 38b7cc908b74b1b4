import { ToolInputError } from './errors.js';
import type { Tool, ToolContext, ToolResult } from './types.js';

/** setTimeout fires immediately for delays above this, so longer limits are clamped. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs a tool with a signal derived from the run's signal plus a time limit. The result is
 * returned as soon as the limit passes or the run is cancelled, even if the tool ignores its
 * signal, so a stuck tool cannot stall the agent loop. Never rejects.
 */
export async function runWithDeadline<Args>(
  tool: Tool<Args>,
  displayName: string,
  args: Args,
  ctx: ToolContext,
  timeoutMs: number,
): Promise<ToolResult> {
  if (ctx.signal.aborted) return failure(`Tool "${displayName}" was cancelled before it started.`);

  const controller = new AbortController();
  let timedOut = false;
  const forwardAbort = () => controller.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', forwardAbort, { once: true });
  const timer =
    Number.isFinite(timeoutMs) && timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort(new Error(`Tool "${displayName}" timed out`));
        }, Math.min(timeoutMs, MAX_TIMER_MS))
      : undefined;

  const interrupted = new Promise<ToolResult>((resolve) => {
    controller.signal.addEventListener(
      'abort',
      () =>
        resolve(
          failure(
            timedOut
              ? `Tool "${displayName}" timed out after ${formatSeconds(timeoutMs)} and was aborted.`
              : `Tool "${displayName}" was cancelled.`,
          ),
        ),
      { once: true },
    );
  });
  // Promise.resolve().then() turns a synchronous throw inside execute() into a rejection.
  const work = Promise.resolve()
    .then(() => tool.execute(args, { ...ctx, signal: controller.signal }))
    .then(normalizeResult, (error: unknown) => failure(errorMessage(displayName, error)));

  try {
    return await Promise.race([work, interrupted]);
  } finally {
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener('abort', forwardAbort);
  }
}

function normalizeResult(result: ToolResult): ToolResult {
  return {
    output: typeof result?.output === 'string' ? result.output : String(result?.output ?? ''),
    success: result?.success === true,
    ...(Array.isArray(result?.images) && result.images.length > 0 ? { images: result.images } : {}),
  };
}

function errorMessage(displayName: string, error: unknown): string {
  if (error instanceof ToolInputError) return `Error: ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return `Tool "${displayName}" failed: ${message}`;
}

function failure(output: string): ToolResult {
  return { output, success: false };
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}
