import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build` puts the web app (vite, web/vite.config.ts); the same from src/ (tsx) and dist/. */
export const WEB_APP_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/**
 * The web app's own paths (web/src/state/router.ts): each answers index.html, so a reload or a
 * shared link opens the app there. Anything else that is not a route stays a 404 in the error
 * body of its surface, as before.
 */
export const APP_PATHS = ['/', '/sign-in', '/sign-up', '/workspaces/:id', '/sessions/:id'];

/** Everything from this origin and nothing else: no inline script or style, no frames, no plug-ins. */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT =
  'The TokenDance web app is not built: dist/web is missing.\n' +
  'Run `npm run build` (it compiles the server and the web app), then restart the server.\n' +
  'The API works without it: /api/v1, /api, /mcp, and the reference at /docs.\n';

/** Static files are hashed by Vite: cached for a year. They and the page are exempt from the API rate limit. */
const routeConfig = { rateLimit: false } as const;

export async function webRoutes(app: FastifyInstance, options: { root?: string } = {}): Promise<void> {
  const root = options.root ?? WEB_APP_DIR;
  const built = existsSync(join(root, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, { root, serve: false, decorateReply: true });
  }

  const sendPage = (reply: FastifyReply) => {
    if (!built) return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    // The page names the current asset hashes: always revalidated, never served stale.
    return reply
      .header('content-security-policy', APP_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .sendFile('index.html', root, { cacheControl: false });
  };
  for (const path of APP_PATHS) app.get(path, { config: routeConfig }, async (_request, reply) => sendPage(reply));

  if (!built) return;
  app.get<{ Params: { '*': string } }>('/assets/*', { config: routeConfig }, async (request, reply) =>
    reply.header('x-content-type-options', 'nosniff').sendFile(request.params['*'], join(root, 'assets'), { maxAge: '365d', immutable: true }),
  );
}
