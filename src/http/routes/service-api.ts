import { z } from 'zod';
import { envelope } from '../../schemas/common.js';
import type { App, HttpContext } from '../context.js';

const tags = ['service-api'];

const healthData = z
  .object({
    status: z.enum(['healthy', 'degraded']),
    version: z.string(),
    timestamp: z.number().int().describe('UNIX seconds'),
    database: z.object({ status: z.enum(['ok', 'down']), dialect: z.string(), error: z.string().optional() }),
    model: z.object({ status: z.enum(['ok', 'offline']), default: z.string(), offline: z.boolean(), message: z.string().optional() }),
  })
  .meta({ id: 'Health' });

/** Wraps Service API data in its `{success, data, error}` envelope. */
export const ok = <T>(data: T) => ({ success: true as const, data, error: null });

export async function serviceApiRoutes(app: App, context: HttpContext): Promise<void> {
  app.get(
    '/health',
    { schema: { tags, summary: 'Health check (no auth, no rate limit)', response: { 200: envelope(healthData) } }, config: { rateLimit: false, public: true } },
    async () => {
      const report = await context.health();
      return ok({ ...report, version: context.version, timestamp: Math.floor(Date.now() / 1000) });
    },
  );
}
