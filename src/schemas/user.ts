import { z } from 'zod';
import { isoTimestamp } from './common.js';

export const userSchema = z
  .object({ id: z.string(), email: z.string(), username: z.string(), created_at: isoTimestamp })
  .meta({ id: 'User' });
export type User = z.infer<typeof userSchema>;

const email = z.email().max(254);
const password = z.string().min(8).max(256);

export const registerBody = z.object({
  email,
  password,
  username: z.string().trim().min(1).max(100).optional(),
});
export const loginBody = z.object({ email: z.string().min(1).max(254), password: z.string().min(1).max(256) });
export const refreshBody = z.object({ refresh_token: z.string().min(1).max(512) });
export const logoutBody = z.object({ refresh_token: z.string().min(1).max(512).optional() }).nullish();

export const tokenPairSchema = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('bearer'),
  expires_in: z.number().int(),
});

export const authResultSchema = tokenPairSchema
  .extend({ user: userSchema, default_workspace_id: z.string() })
  .meta({ id: 'AuthResult' });

export const streamTicketSchema = z.object({ ticket: z.string(), expires_in: z.number().int() });
