import { type Kysely, type QueryCreator, sql } from 'kysely';
import { PreparedQueries } from '../prepared.js';
import type { Database, MessageRow } from '../schema.js';

export type NewMessage = Omit<MessageRow, 'position' | 'attachments'> & { attachments?: string | null };

/** The INSERT of one message after the session's last one (the position read inside it). */
export const insertMessage = (db: QueryCreator<Database>, message: NewMessage) =>
  db.insertInto('messages').values({ ...message, position: sql<number>`(select coalesce(max(position), 0) + 1 from messages where session_id = ${message.session_id})` });

/** Every column of a message, as a statement that reads messages through a join names them. */
export const MESSAGE_COLUMNS = ['id', 'session_id', 'run_id', 'position', 'role', 'content', 'tool_calls', 'tool_call_id', 'attachments', 'created_at'] as const satisfies ReadonlyArray<keyof MessageRow>;

/** The columns a new message is inserted with (its position is read inside the INSERT). */
export const NEW_MESSAGE_COLUMNS = MESSAGE_COLUMNS.filter((column) => column !== 'position') as Array<keyof NewMessage>;

/** A session's whole conversation, in order. */
export const selectConversation = (db: Kysely<Database>, v: { sessionId: string }) => db.selectFrom('messages').selectAll().where('session_id', '=', v.sessionId).orderBy('position', 'asc');

export class MessagesRepository {
  /** What every run makes on its way: compiled once (prepared.ts). */
  private readonly prepared: PreparedQueries<Database>;

  constructor(private readonly db: Kysely<Database>) {
    this.prepared = new PreparedQueries(db);
  }

  /**
   * Appends messages in order; positions continue from the session's last one. One statement
   * (one round trip): the position is read inside the INSERT, and the unique index on
   * (session_id, position) refuses a concurrent append that read the same one.
   */
  async append(messages: NewMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const sessionId = messages[0]!.session_id;
    if (messages.length === 1) {
      // A run saves one message at a time.
      await this.prepared.execute('messages.appendOne', messages[0]!, insertMessage);
      return;
    }
    const last = sql<number>`(select coalesce(max(position), 0) from messages where session_id = ${sessionId})`;
    await this.db
      .insertInto('messages')
      .values(messages.map((message, index) => ({ ...message, position: sql<number>`${last} + ${index + 1}` })))
      .execute();
  }

  /** The newest `limit` messages before `beforeId` (or the end), in chronological order. */
  async list(sessionId: string, limit: number, beforeId?: string): Promise<{ items: MessageRow[]; total: number }> {
    let query = this.db.selectFrom('messages').selectAll().where('session_id', '=', sessionId);
    if (beforeId) {
      const anchor = await this.db
        .selectFrom('messages')
        .select('position')
        .where('id', '=', beforeId)
        .where('session_id', '=', sessionId)
        .executeTakeFirst();
      if (!anchor) return { items: [], total: await this.count(sessionId) };
      query = query.where('position', '<', anchor.position);
    }
    const [rows, total] = await Promise.all([query.orderBy('position', 'desc').limit(limit).execute(), this.count(sessionId)]);
    return { items: rows.reverse(), total };
  }

  /** The whole conversation, for building model context. */
  all(sessionId: string): Promise<MessageRow[]> {
    return this.prepared.rows('messages.all', { sessionId }, selectConversation);
  }

  /** A completed run's answer: its final assistant message (the one without tool calls), or null. */
  async finalAnswer(sessionId: string, runId: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('messages')
      .select('content')
      .where('session_id', '=', sessionId)
      .where('run_id', '=', runId)
      .where('role', '=', 'assistant')
      .where('tool_calls', 'is', null)
      .orderBy('position', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.content ?? null;
  }

  async count(sessionId: string): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return Number(row?.total ?? 0);
  }
}
