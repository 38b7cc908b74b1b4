import { z } from 'zod';
import { errorBody, idParams } from '../../schemas/common.js';
import { sessionStreamEvent } from '../../schemas/stream-events.js';
import { CaughtSessionEvents, streamSession } from '../../events/stream.js';
import { toNamedFrame } from '../../events/projections.js';
import type { StoredEvent } from '../../events/types.js';
import type { App, HttpContext } from '../context.js';
import { requireIdentity } from '../request-auth.js';
import { openSse } from '../streams.js';
import { WorkingMemory } from '../../memory/working-memory.js';
import { workingMemorySchema } from '../../schemas/working-memory.js';
import { approvalAnswerSchema, chatConfirmBody } from '../../schemas/approval.js';

const tags = ['chat'];
const security = [{ bearer: [] }];

const attachment = z.union([
  z.object({ file_id: z.string().min(1).max(200) }),
  z.object({ type: z.enum(['image', 'document']), url: z.string().startsWith('data:').max(15_000_000), name: z.string().max(255).optional() }),
]);

export const chatMessageBody = z
  .object({
    content: z.string().min(1).max(100_000),
    attachments: z
      .array(attachment)
      .max(10)
      .optional()
      .describe(
        'Uploaded files (file_id from POST /files) or data: URLs. Images (PNG, JPEG, GIF, WebP, at most 5 MiB each, type read from the bytes) go to the model as image parts when it supports vision, else as a note; text documents are inlined up to 200 000 characters. Other image types, malformed data URLs or invalid base64 are a 400, a larger image a 413, an unknown or foreign file_id a 404.',
      ),
  })
  .meta({ examples: [{ content: 'write file hello.txt: hi' }] });

export async function chatRoutes(app: App, context: HttpContext): Promise<void> {
  const { runs, streams, attachments } = context;
  app.post(
    '/chat/:id/message',
    {
      schema: {
        tags,
        security,
        summary: 'Send a message: starts a run and answers with its SSE stream (thinking, tool_call, tool_result, content, done, error)',
        params: idParams,
        body: chatMessageBody,
        sse: { events: sessionStreamEvent, description: 'SSE of the run from its start to `done` or `error`; closing it does not stop the run' },
        response: { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody, 413: errorBody, 429: errorBody },
      },
    },
    async (request, reply) => {
      const { userId } = requireIdentity(request);
      const sessionId = request.params.id;
      const given = request.body.attachments ?? [];
      // Attachments may be stored on their way (data: URLs): only for a session the user may use. Without them, the start checks.
      if (given.length > 0) await context.sessions.requireAccess(userId, sessionId);
      const { prompt, images } = await attachments.resolve(userId, request.body.content, given);
      // Take the stream slot before starting, so a refused stream never leaves an unwatched run behind.
      const release = await context.sseSlots.acquire(userId);
      // Caught from before the run starts: the stream then needs no read of the log.
      const caught = new CaughtSessionEvents(streams.bus, sessionId);
      let started;
      try {
        started = await runs.startChat(userId, sessionId, prompt, images);
      } catch (error) {
        caught.close();
        release();
        throw error;
      }
      const writer = openSse(context, streams, request, reply, release);
      const write = (event: StoredEvent) => {
        if (event.runId !== started.run.id) return false;
        const frame = toNamedFrame(event);
        if (frame) writer.send(event.seq, frame.event, frame.json);
        return event.type === 'done' || event.type === 'error';
      };
      await streamSession(streams.log, streams.bus, writer, sessionId, started.startSeq - 1, write, caught);
    },
  );

  app.post(
    '/chat/:id/confirm',
    {
      schema: {
        tags,
        security,
        summary: 'Answer a pending approval of this session (same request as POST /hitl/{id}/confirm)',
        params: idParams,
        body: chatConfirmBody,
        response: { 200: approvalAnswerSchema, 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request) => {
      const { userId } = requireIdentity(request);
      const { action_id, confirmed, feedback } = request.body;
      return context.approvals.answer(userId, action_id, confirmed, feedback, request.params.id);
    },
  );

  app.post(
    '/chat/:id/stop',
    { schema: { tags, security, summary: 'Cancel the active run', params: idParams, response: { 200: z.object({ stopped: z.boolean() }), 401: errorBody, 403: errorBody, 404: errorBody } } },
    async (request) => {
      const { userId } = requireIdentity(request);
      const session = await context.sessions.requireAccess(userId, request.params.id);
      return { stopped: await runs.stopSession(session.id, 'stopped by user') };
    },
  );

  // Stateless path mapping, same data dir as the run manager's.
  const { directories } = context;
  app.get(
    '/chat/:id/working-memory',
    {
      schema: {
        tags,
        security,
        summary: "The agent's working memory: task plan, findings and progress, each with its front matter as metadata",
        params: idParams,
        response: { 200: workingMemorySchema, 401: errorBody, 403: errorBody, 404: errorBody },
      },
    },
    async (request) => {
      const { userId } = requireIdentity(request);
      const session = await context.sessions.requireAccess(userId, request.params.id);
      return new WorkingMemory(directories.pathOf(session.id), session.id).snapshot();
    },
  );
}
