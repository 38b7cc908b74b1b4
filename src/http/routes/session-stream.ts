import { z } from 'zod';
import { toNamedFrame } from '../../events/projections.js';
import { streamSession } from '../../events/stream.js';
import { errorBody, idParams } from '../../schemas/common.js';
import { sessionStreamEvent } from '../../schemas/stream-events.js';
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
      const writer = openSse(context, streams, request, reply, await context.sseSlots.acquire(userId));

      let after = cursor;
      const resumable = cursor !== undefined && cursor >= Number(session.compacted_through_seq) && cursor <= Number(session.last_event_seq);
      if (!resumable) {
        // No cursor, or one we cannot honour (compacted away or from the future): say where things stand.
        after = Number(session.last_event_seq);
        const snapshot = await sessionSnapshot(context, session.id);
        writer.send(after, cursor === undefined ? 'status' : 'reset', JSON.stringify(snapshot));
      }
      await streamSession(streams.log, streams.bus, writer, session.id, after!, (event) => {
        const frame = toNamedFrame(event);
        if (frame) writer.send(event.seq, frame.event, frame.json);
        return false;
      });
    },
  );
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
