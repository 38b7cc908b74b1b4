import { z } from 'zod';
import { notFound } from '../../core/errors.js';
import { toServiceFrame } from '../../events/projections.js';
import { REPLAY_PAGE_SIZE, replayThenLive } from '../../events/stream.js';
import { envelope } from '../../schemas/common.js';
import { approvalAnswerSchema, approvalRequestSchema, hitlConfirmBody } from '../../schemas/approval.js';
import { EXAMPLE } from '../../schemas/examples.js';
import { serviceStreamEvent } from '../../schemas/stream-events.js';
import type { RunRow } from '../../store/schema.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';
import { streamUserId } from '../stream-auth.js';
import { lastEventId, openSse } from '../streams.js';
import { streamQuery } from './session-stream.js';

const tags = ['service-api'];

const healthData = z
  .object({
    status: z.enum(['healthy', 'degraded']),
    version: z.string(),
    timestamp: z.number().int().describe('UNIX seconds'),
    database: z.object({ status: z.enum(['ok', 'down']), dialect: z.string(), error: z.string().optional() }),
    model: z.object({
      status: z.enum(['ok', 'offline', 'failing']),
      default: z.string(),
      offline: z.boolean(),
      message: z.string().optional(),
      providers: z.array(
        z.object({
          name: z.string(),
          status: z.enum(['ok', 'failing']),
          consecutive_failures: z.number().int(),
          last_error: z.string().optional(),
          last_failure_at: z.string().optional(),
        }),
      ),
    }),
  })
  .meta({
    id: 'Health',
    examples: [
      {
        status: 'healthy',
        version: '0.1.0',
        timestamp: EXAMPLE.unixTime,
        database: { status: 'ok', dialect: 'sqlite' },
        model: { status: 'offline', default: 'offline', offline: true, message: 'No model provider configured: using the offline demo model', providers: [] },
      },
    ],
  });

const taskExample = {
  task_id: EXAMPLE.runId,
  session_id: EXAMPLE.sessionId,
  status: 'completed' as const,
  prompt: 'hello from test script',
  created_at: EXAMPLE.unixTime,
  started_at: EXAMPLE.unixTime,
  finished_at: EXAMPLE.unixTime + 2,
};

const taskSchema = z
  .object({
    task_id: z.string(),
    session_id: z.string(),
    status: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']),
    prompt: z.string(),
    created_at: z.number().int(),
    started_at: z.number().int().nullable(),
    finished_at: z.number().int().nullable(),
  })
  .meta({ id: 'Task', examples: [taskExample] });

const taskDetailsSchema = taskSchema.extend({ answer: z.string().nullable(), turns: z.number().int(), error: z.string().nullable() }).meta({
  examples: [{ ...taskExample, answer: 'Hello! How can I help?', turns: 1, error: null }],
});

/** Wraps Service API data in its `{success, data, error}` envelope. */
export const ok = <T>(data: T) => ({ success: true as const, data, error: null });

const unixSeconds = (iso: string | null) => (iso ? Math.floor(Date.parse(iso) / 1000) : null);

function presentTask(run: RunRow) {
  const status = run.state === 'waiting_approval' ? 'running' : run.state;
  return {
    task_id: run.id,
    session_id: run.session_id,
    status: status as z.infer<typeof taskSchema>['status'],
    prompt: run.prompt,
    created_at: unixSeconds(run.created_at)!,
    started_at: unixSeconds(run.started_at),
    finished_at: unixSeconds(run.finished_at),
  };
}

export async function serviceApiRoutes(app: App, context: HttpContext): Promise<void> {
  const { serviceTasks, streams } = context;
  app.get(
    '/health',
    { schema: { tags, summary: 'Health check (no auth, no rate limit)', security: [], response: { 200: envelope(healthData) } }, config: { rateLimit: false, public: true } },
    async () => {
      const report = await context.health();
      return ok({ ...report, version: context.version, timestamp: Math.floor(Date.now() / 1000) });
    },
  );

  app.post(
    '/execute',
    {
      schema: {
        tags,
        summary: "Run a prompt on the caller's service session (queued FIFO behind a running task)",
        body: z.object({ prompt: z.string().min(1).max(100_000) }).meta({ examples: [{ prompt: 'hello from test script' }] }),
        response: { 200: envelope(z.object({ task_id: z.string(), status: z.enum(['started', 'queued']), timestamp: z.number().int() }).meta({ examples: [{ task_id: EXAMPLE.runId, status: 'started', timestamp: EXAMPLE.unixTime }] })) },
      },
    },
    async (request) => {
      const { run, status } = await serviceTasks.execute(requireIdentity(request).userId, request.body.prompt);
      return ok({ task_id: run.id, status, timestamp: Math.floor(Date.now() / 1000) });
    },
  );

  app.get(
    '/status',
    {
      schema: {
        tags,
        summary: 'State of the caller’s service session',
        response: {
          200: envelope(
            z.object({
              session_id: z.string(),
              is_running: z.boolean(),
              state: z.enum(['Idle', 'Running', 'WaitingForApproval']),
              queued: z.number().int(),
              current_task_id: z.string().nullable(),
            }).meta({ examples: [{ session_id: EXAMPLE.sessionId, is_running: true, state: 'Running', queued: 0, current_task_id: EXAMPLE.runId }] }),
          ),
        },
      },
    },
    async (request) => ok(await serviceTasks.status(requireIdentity(request).userId)),
  );

  app.post(
    '/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a task (default: the running one)',
        body: z.object({ task_id: z.string().min(1).max(200).optional() }).meta({ examples: [{ task_id: EXAMPLE.runId }] }).nullish(),
        response: { 200: envelope(z.object({ cancelled: z.boolean(), task_id: z.string().nullable() }).meta({ examples: [{ cancelled: true, task_id: EXAMPLE.runId }] })) },
      },
    },
    async (request) => ok(await serviceTasks.cancel(requireIdentity(request).userId, request.body?.task_id)),
  );

  app.get(
    '/approvals',
    {
      schema: {
        tags,
        summary: "Approval requests waiting on the caller's service session (answer them here or with the HITL API)",
        response: { 200: envelope(z.object({ items: z.array(approvalRequestSchema) })) },
      },
    },
    async (request) => {
      const { userId } = requireIdentity(request);
      const session = await serviceTasks.serviceSession(userId);
      return ok({ items: await context.approvals.listPending(userId, session.id) });
    },
  );

  app.post(
    '/approvals/:id/confirm',
    {
      schema: {
        tags,
        summary: 'Approve or reject a pending request of the caller (once; 409 when already answered or expired)',
        params: z.object({ id: z.string().min(1).max(200) }),
        body: hitlConfirmBody,
        response: { 200: envelope(approvalAnswerSchema) },
      },
    },
    async (request) =>
      ok(await context.approvals.answer(requireIdentity(request).userId, request.params.id, request.body.approved, request.body.user_feedback)),
  );

  app.get(
    '/tasks',
    {
      schema: {
        tags,
        summary: 'The caller’s Service API tasks, newest first',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), offset: z.coerce.number().int().min(0).default(0) }),
        response: { 200: envelope(z.object({ items: z.array(taskSchema), total: z.number().int() })) },
      },
    },
    async (request) => {
      const { items, total } = await context.store.runs.listForUser(requireIdentity(request).userId, 'execute', request.query.limit, request.query.offset);
      return ok({ items: items.map(presentTask), total });
    },
  );

  app.get(
    '/tasks/:id',
    { schema: { tags, summary: 'One task with its answer', params: z.object({ id: z.string().min(1).max(200) }), response: { 200: envelope(taskDetailsSchema) } } },
    async (request) => {
      const run = await context.store.runs.findById(request.params.id);
      if (!run || run.user_id !== requireIdentity(request).userId || run.kind !== 'execute') throw notFound('Task');
      const answer = run.answer ?? (run.state === 'completed' ? await context.store.messages.finalAnswer(run.session_id, run.id) : null);
      return ok({ ...presentTask(run), answer, turns: run.iterations, error: run.error });
    },
  );

  app.get(
    '/stream',
    {
      config: { public: true, streamTicket: true },
      schema: {
        tags,
        summary: "Every event of the caller's sessions as unnamed `data:` frames typed by `type`; Last-Event-ID resumes",
        security: [{ bearer: [] }, { ticket: [] }, {}],
        querystring: streamQuery,
        sse: { events: serviceStreamEvent, description: 'SSE: replay after Last-Event-ID (global cursor), then live; `: ping` every 15 s' },
      },
    },
    async (request, reply) => {
      const userId = await streamUserId(request, context.auth);
      const cursor = lastEventId(request);
      const after = cursor ?? (await streams.log.headId());
      const visible = new Set(await context.store.sessions.idsVisibleTo(userId));
      const invisible = new Set<string>();
      const writer = openSse(context, streams, request, reply, await context.sseSlots.acquire(userId));
      await replayThenLive({
        writer,
        subscribe: (listener) => streams.bus.subscribeAll(listener),
        readPage: (from) => streams.log.listForUserAfter(userId, from, REPLAY_PAGE_SIZE),
        cursorOf: (event) => event.id,
        after,
        write: (event) => {
          if (invisible.has(event.sessionId)) return false;
          const send = () => {
            const json = toServiceFrame(event);
            if (json) writer.send(event.id, null, json);
            return false;
          };
          if (visible.has(event.sessionId)) return send();
          // A session created after the stream opened: check once, remember the answer.
          return (async () => {
            const session = await context.store.sessions.findById(event.sessionId);
            const member = session && (await context.store.workspaces.roleOf(session.workspace_id, userId));
            (member ? visible : invisible).add(event.sessionId);
            return member ? send() : false;
          })();
        },
      });
    },
  );
}
