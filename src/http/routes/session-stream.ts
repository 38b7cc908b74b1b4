import { z } from 'zod';
import { toNamedFrame } from '../../events/projections.js';
import { streamSession } from '../../events/stream.js';
import { errorBody, idParams } from '../../schemas/common.js';
import { sessionStreamEvent } from '../../schemas/stream-events.js';
import type { SessionRow } from '../../store/schema.js';
import type { App, HttpContext } from '../context.js';
import { streamUserId } from '../stream-auth.js';
import { lastEventId, openSse } from '../streams.js';

export const streamQuery = z.object({
  last_event_id: z.string().max(20).optional(),
  ticket: z.string().max(512).optional(),
});

export async function sessionStreamRoutes(app: App, context: HttpContext): Promise<void> {
  const { streams } = context;
  app.get(
    '/sessions/:id/stream',
    {
      config: { public: true, streamTicket: true },
      schema: {
        tags: ['stream'],
        security: [{ bearer: [] }, { ticket: [] }],
        summary: 'Every event of the session: replay after Last-Event-ID, then live',
        sse: { events: sessionStreamEvent, description: 'SSE: replay after Last-Event-ID (or `status` first without one), then live; `: ping` every 15 s' },
        params: idParams,
        querystring: streamQuery,
        response: { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 429: errorBody },
      },
    },
    async (request, reply) => {
      const userId = await streamUserId(request, context.auth);
      const session = await context.sessions.requireAccess(userId, request.params.id);
      const cursor = lastEventId(request);
      const start = await sessionStreamStart(context, session, cursor);
      const writer = openSse(context, streams, request, reply, await context.sseSlots.acquire(userId));
      if (start.opening) writer.send(start.after, start.opening.event, start.opening.json);
      await streamSession(streams.log, streams.bus, writer, session.id, start.after, (event) => {
        const frame = toNamedFrame(event);
        if (frame) writer.send(event.seq, frame.event, frame.json);
        return false;
      });
    },
  );
}

/**
 * Where a session stream starts for a client's cursor: right after it when it can be honoured;
 * else at the head of the log, opened by a `status` frame (no cursor) or a `reset` frame (a
 * cursor into compacted history or from the future) that says where things stand.
 */
export async function sessionStreamStart(
  context: HttpContext,
  session: SessionRow,
  cursor: number | undefined,
): Promise<{ after: number; opening?: { event: 'status' | 'reset'; json: string } }> {
  const head = await context.streams.log.headSeq(session.id);
  const resumable = cursor !== undefined && cursor >= Number(session.compacted_through_seq) && cursor <= head;
  if (resumable) return { after: cursor };
  const snapshot = await sessionSnapshot(context, session.id);
  return { after: head, opening: { event: cursor === undefined ? 'status' : 'reset', json: JSON.stringify(snapshot) } };
}

async function sessionSnapshot(context: HttpContext, sessionId: string) {
  const [session, live, pending] = await Promise.all([
    context.store.sessions.findById(sessionId),
    context.store.runs.findLive(sessionId),
    context.store.approvals.listPending(sessionId),
  ]);
  return {
    session_status: session?.status ?? 'created',
    run: live ? { id: live.id, state: live.state } : null,
    pending_approvals: pending.map((approval) => approval.id),
  };
}
