import { z } from 'zod';

export const isoTimestamp = z.string().describe('ISO-8601 UTC timestamp');

export const errorBody = z
  .object({
    detail: z.string(),
    error_code: z.string(),
    timestamp: isoTimestamp,
    request_id: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Error' });

export const idParams = z.object({ id: z.string().min(1).max(200) });

/** Query booleans arrive as strings. */
export const queryBoolean = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

export const paginationQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).default(0),
};

/** The Service API envelope around `data`. */
export const envelope = <T extends z.ZodType>(data: T) =>
  z.object({ success: z.boolean(), data: data.nullable(), error: z.string().nullable() });
