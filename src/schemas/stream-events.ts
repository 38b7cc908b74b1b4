import { z } from 'zod';
import { artifactSchema } from './artifact.js';
import { isoTimestamp } from './common.js';

/**
 * The frames of the SSE endpoints, for the API reference (the event log's projections write them;
 * src/events/projections.ts). Payloads are open: clients must ignore fields they do not know.
 */

const runId = z.string().describe('The run (task) the event belongs to');
const args = z.record(z.string(), z.unknown()).describe('Tool arguments as the model gave them');

const named = <E extends string>(event: E, data: z.ZodType, description: string) =>
  z
    .object({
      id: z.string().describe('Per-session cursor; send it back as Last-Event-ID to resume'),
      event: z.literal(event),
      data: data.describe('JSON'),
    })
    .describe(description);

const snapshot = z.looseObject({
  session_status: z.enum(['created', 'running', 'completed', 'error']),
  run: z.object({ id: z.string(), state: z.string() }).nullable(),
  pending_approvals: z.array(z.string()).describe('request ids of pending approvals'),
});

export const sessionStreamEvent = z
  .union([
    named('thinking', z.looseObject({ run_id: runId, iteration: z.number().int(), reasoning: z.string() }), 'Model reasoning or step narration, possibly in several chunks'),
    named('tool_call', z.looseObject({ run_id: runId, tool: z.string(), args, call_id: z.string(), iteration: z.number().int() }), 'The agent calls a tool'),
    named(
      'tool_result',
      z.looseObject({ run_id: runId, tool: z.string(), result: z.string(), success: z.boolean(), call_id: z.string(), duration_ms: z.number() }),
      'A tool finished; `result` is truncated to the configured size with a note',
    ),
    named('content', z.looseObject({ run_id: runId, text: z.string() }), 'A delta of the answer'),
    named(
      'confirm_required',
      z.looseObject({
        run_id: runId,
        action_id: z.string(),
        tool: z.string(),
        args,
        operation: z.string(),
        description: z.string(),
        risk_level: z.string(),
        expires_at: isoTimestamp,
      }),
      'The run is paused until a person approves or rejects the tool call',
    ),
    named('confirm_resolved', z.looseObject({ run_id: runId, action_id: z.string(), approved: z.boolean() }), 'An approval was answered or expired'),
    named('working_memory', z.looseObject({ run_id: runId, file: z.string(), version: z.number().int() }), 'A working-memory file changed'),
    named('artifact', artifactSchema, 'The agent produced a file'),
    named(
      'done',
      z.looseObject({
        run_id: runId,
        message: z.string(),
        content: z.string().describe('The full final answer'),
        artifacts: z.array(z.unknown()),
        usage: z.looseObject({ input_tokens: z.number().int(), output_tokens: z.number().int() }),
        iterations: z.number().int().describe('Model calls in the run'),
        duration_ms: z.number(),
      }),
      'The run completed',
    ),
    named('error', z.looseObject({ run_id: runId, message: z.string(), code: z.string().describe('e.g. CANCELLED, MAX_ITERATIONS, MODEL_ERROR') }), 'The run failed or was cancelled'),
    named('status', z.looseObject({ run_id: runId.optional(), state: z.string().optional() }).or(snapshot), 'A run changed state; or, first on a session stream opened without a cursor, where the session stands'),
    named('reset', snapshot, 'The cursor pointed into compacted (or future) history: where the session stands now; live events follow'),
  ])
  .meta({
    id: 'SessionStreamEvent',
    description: 'One SSE frame `id: <cursor>\\nevent: <name>\\ndata: <JSON>`; `: ping` comments keep the connection alive',
    examples: [{ id: '7', event: 'content', data: { run_id: '0b9a4c1e-5d1e-4c47-9a55-2f7c0a3f8e11', text: 'Hello' } }],
  });

const base = { session_id: z.string(), run_id: runId };
const typed = <T extends string>(type: T, fields: z.ZodRawShape, description: string) =>
  z.looseObject({ type: z.literal(type), ...base, ...fields }).describe(description);

export const serviceStreamEvent = z
  .union([
    typed('task_started', { task_id: z.string(), task_kind: z.enum(['execute', 'chat']) }, 'A task (run) started'),
    typed('user_message', { content: z.string() }, 'The prompt of the task'),
    typed('assistant_message_delta', { delta: z.string() }, 'A delta of the answer'),
    typed('assistant_message_completed', { content: z.string() }, 'One model turn that produced text, complete'),
    typed('assistant_message_restarted', {}, 'After a restart the interrupted model turn streams again from its start'),
    typed('model_status', { state: z.enum(['model_retrying', 'model_fallback']) }, 'The model provider is being retried or replaced by a fallback'),
    typed('tool_call_started', { call_id: z.string(), name: z.string(), args }, 'The agent calls a tool'),
    typed('tool_call_completed', { call_id: z.string(), name: z.string(), output: z.string(), duration_ms: z.number(), success: z.boolean() }, 'A tool finished'),
    typed('approval_required', { request_id: z.string(), call_id: z.string(), name: z.string(), args }, 'The task waits for a person to approve a tool call'),
    typed('approval_resolved', { request_id: z.string(), approved: z.boolean() }, 'An approval was answered or expired'),
    typed('stream_error', { error: z.string(), code: z.string().optional() }, 'The task failed or was cancelled'),
    typed('task_completed', { task_id: z.string(), success: z.boolean(), turns: z.number().int(), duration_ms: z.number() }, 'The task ended'),
  ])
  .meta({
    id: 'ServiceStreamEvent',
    description: 'The JSON of one unnamed SSE frame `id: <global cursor>\\ndata: <JSON>` (no `event:` line, so EventSource.onmessage receives it)',
    examples: [{ type: 'assistant_message_delta', session_id: '5f0c2a9e-8b7d-4e21-a7f3-1c9b2d4e6f80', run_id: '0b9a4c1e-5d1e-4c47-9a55-2f7c0a3f8e11', delta: 'Hello' }],
  });
