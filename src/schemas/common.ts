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

/** Every error under `/api` outside `/api/v1`: the Service API envelope with `success: false`. */
export const serviceErrorBody = z
  .object({ success: z.literal(false), data: z.null(), error: z.string() })
  .meta({ id: 'ServiceError' });

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
