import type { FastifyRequest } from 'fastify';

/**
 * Which API a request belongs to: the TokenDance API (`/api/v1`), the Service API (the rest of
 * `/api`), TokenDance's MCP endpoint (`/mcp`), or none (docs, metrics, the web app). It decides the
 * error body and whether local mode applies, so it must agree with the router: a matched request
 * takes the surface of the route that will handle it, whatever encoding its path used
 * (`/api/%761/…` is routed to `/api/v1/…`).
 */
export type Surface = 'v1' | 'service' | 'mcp' | 'other';

/** Surfaces where local mode lets token-less requests act as the local user (SPEC §7.3); never `/api/v1`. */
export const acceptsLocalUser = (surface: Surface): boolean => surface === 'service' || surface === 'mcp';

declare module 'fastify' {
  interface FastifyRequest {
    surface?: Surface;
  }
}

export function surfaceOfPath(path: string): Surface {
  if (path === '/api/v1' || path.startsWith('/api/v1/')) return 'v1';
  if (path === '/api' || path.startsWith('/api/')) return 'service';
  if (path === '/mcp' || path.startsWith('/mcp/')) return 'mcp';
  return 'other';
}

export function surfaceOf(request: FastifyRequest): Surface {
  if (request.surface) return request.surface;
  const route = request.is404 || matchesEveryPath(request) ? undefined : request.routeOptions?.url;
  request.surface = surfaceOfPath(route ?? normalizedPath(request.url));
  return request.surface;
}

/**
 * A route for every path (the CORS plugin's `OPTIONS *`, which answers 404 unless CORS is on and
 * it is a preflight) names no surface: the path decides, as for unmatched requests.
 */
export const matchesEveryPath = (request: FastifyRequest): boolean => request.routeOptions?.url === '*';

/**
 * An unmatched path as a client or proxy would read it: query dropped, percent-decoded once (as
 * the router decodes), lower-cased, duplicate slashes and dot segments resolved.
 */
export function normalizedPath(url: string): string {
  const raw = url.split('?', 1)[0] ?? '';
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // Invalid percent-encoding: classify the raw text.
  }
  const segments: string[] = [];
  for (const segment of decoded.toLowerCase().split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}`;
}
