import { z } from 'zod';
import { isoTimestamp } from './common.js';
import { EXAMPLE } from './examples.js';

export const userSchema = z
  .object({ id: z.string(), email: z.string(), username: z.string(), created_at: isoTimestamp })
  .meta({ id: 'User', examples: [{ id: EXAMPLE.userId, email: EXAMPLE.email, username: 'ada', created_at: EXAMPLE.time }] });
export type User = z.infer<typeof userSchema>;

const email = z.email().max(254);
const password = z.string().min(8).max(256);

export const registerBody = z
  .object({
    email,
    password,
    username: z.string().trim().min(1).max(100).optional(),
  })
  .meta({ examples: [{ email: EXAMPLE.email, password: 'correct horse', username: 'ada' }] });
export const loginBody = z
  .object({ email: z.string().min(1).max(254), password: z.string().min(1).max(256) })
  .meta({ examples: [{ email: EXAMPLE.email, password: 'correct horse' }] });
export const refreshBody = z.object({ refresh_token: z.string().min(1).max(512) }).meta({ examples: [{ refresh_token: 'Zq3v9d0Y1x…' }] });
export const logoutBody = z
  .object({ refresh_token: z.string().min(1).max(512).optional() })
  .meta({ examples: [{ refresh_token: 'Zq3v9d0Y1x…' }] })
  .nullish();

const tokenPairExample = { access_token: 'eyJhbGciOiJIUzI1NiJ9…', refresh_token: 'Zq3v9d0Y1x…', token_type: 'bearer' as const, expires_in: 3600 };

export const tokenPairSchema = z
  .object({
    access_token: z.string(),
    refresh_token: z.string(),
    token_type: z.literal('bearer'),
    expires_in: z.number().int(),
  })
  .meta({ examples: [tokenPairExample] });

export const authResultSchema = tokenPairSchema
  .extend({ user: userSchema, default_workspace_id: z.string() })
  .meta({
    id: 'AuthResult',
    examples: [
      {
        ...tokenPairExample,
        user: { id: EXAMPLE.userId, email: EXAMPLE.email, username: 'ada', created_at: EXAMPLE.time },
        default_workspace_id: EXAMPLE.workspaceId,
      },
    ],
  });

export const streamTicketSchema = z.object({ ticket: z.string(), expires_in: z.number().int() }).meta({ examples: [{ ticket: 'tk_4f9a0c…', expires_in: 60 }] });
