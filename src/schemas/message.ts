import { z } from 'zod';
import { isoTimestamp } from './common.js';
import { EXAMPLE } from './examples.js';

export const toolCallSchema = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

export const messageSchema = z
  .object({
    id: z.string(),
    role: z.enum(['system', 'user', 'assistant', 'tool']),
    content: z.string(),
    tool_calls: z.array(toolCallSchema).optional(),
    tool_call_id: z.string().optional(),
    created_at: isoTimestamp,
  })
  .meta({ id: 'Message', examples: [{ id: EXAMPLE.messageId, role: 'user', content: 'write file hello.txt: hi', created_at: EXAMPLE.time }] });
export type Message = z.infer<typeof messageSchema>;

export const listMessagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.string().min(1).max(200).optional(),
});

export const messageListSchema = z.object({ items: z.array(messageSchema), total: z.number().int() });
